/* unit_test.h - what every cmocka unit test in t/unit/LAYER/ starts with: cmocka and the
 * headers it needs before it, and UNIT_TEST_MAIN(test, ...), the main() that runs the
 * listed tests as one group without group setup (tests that need one write their own
 * main with cmocka_run_group_tests). */
#ifndef POSTHORN_UNIT_TEST_H
#define POSTHORN_UNIT_TEST_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define UNIT_TEST_MAIN(...)                                                                 \
    int main(void)                                                                          \
    {                                                                                       \
        const struct CMUnitTest tests[] = {__VA_ARGS__};                                    \
        return cmocka_run_group_tests(tests, NULL, NULL);                                   \
    }

#endif
