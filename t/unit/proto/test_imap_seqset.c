/* test_imap_seqset.c - resolved sequence sets as values (lib/proto/imap_seqset.c): building,
 * intersection, difference, counting and writing, at the edges of the UID space too. */
#include "unit_test.h"
#include <stdlib.h>
#include <string.h>

#include "imap_parse.h"

static struct imap_seqset set_of(const char *s, uint32_t star)
{
    struct imap_seqset set;
    assert_true(imap_seqset_parse(s, 1000, &set));
    imap_seqset_resolve(&set, star);
    return set;
}

static void assert_set(const struct imap_seqset *set, const char *want)
{
    struct buf b = BUF_INIT;
    imap_seqset_write_set(&b, set);
    assert_string_equal(buf_cstr(&b), want);
    buf_free(&b);
}

static void test_add(void **state)
{
    struct imap_seqset s = {0};
    imap_seqset_add(&s, 1, 1);
    imap_seqset_add(&s, 2, 4); /* touches: merged */
    imap_seqset_add(&s, 3, 3); /* inside: nothing new */
    imap_seqset_add(&s, 7, 7);
    for (uint32_t u = 10; u < 100; u += 2) /* many ranges: the array grows */
        imap_seqset_add(&s, u, u);
    imap_seqset_add(&s, UINT32_MAX - 1, UINT32_MAX);
    imap_seqset_add(&s, UINT32_MAX, UINT32_MAX);
    assert_int_equal(s.n, 2 + 45 + 1);
    assert_int_equal(s.r[0].lo, 1);
    assert_int_equal(s.r[0].hi, 4);
    assert_int_equal(imap_seqset_count(&s), 4 + 1 + 45 + 2);
    imap_seqset_free(&s);
    assert_set(&s, "");
}

static void test_intersect(void **state)
{
    struct imap_seqset a = set_of("1:10,20:30,40", 0), b = set_of("5:25,35:*", UINT32_MAX), out = {0};
    imap_seqset_intersect(&a, &b, &out);
    assert_set(&out, "5:10,20:25,40");
    imap_seqset_free(&out);
    imap_seqset_intersect(&b, &a, &out);
    assert_set(&out, "5:10,20:25,40");
    imap_seqset_free(&out);
    struct imap_seqset none = {0};
    imap_seqset_intersect(&a, &none, &out);
    assert_int_equal(out.n, 0);
    imap_seqset_free(&a);
    imap_seqset_free(&b);
}

static void test_subtract(void **state)
{
    struct imap_seqset a = set_of("1:*", UINT32_MAX), b = set_of("1,3:5,9,4294967295", 0), out = {0};
    imap_seqset_subtract(&a, &b, &out);
    assert_set(&out, "2,6:8,10:4294967294");
    assert_int_equal(imap_seqset_count(&out), 1 + 3 + 4294967285ULL);
    imap_seqset_free(&out);
    imap_seqset_subtract(&b, &a, &out); /* everything removed */
    assert_int_equal(out.n, 0);
    struct imap_seqset c = set_of("2:3,7:12", 0), d = set_of("1:2,8,10:20", 0);
    imap_seqset_subtract(&c, &d, &out);
    assert_set(&out, "3,7,9");
    imap_seqset_free(&out);
    struct imap_seqset none = {0};
    imap_seqset_subtract(&c, &none, &out);
    assert_set(&out, "2:3,7:12");
    imap_seqset_free(&out);
    imap_seqset_free(&a);
    imap_seqset_free(&b);
    imap_seqset_free(&c);
    imap_seqset_free(&d);
}

UNIT_TEST_MAIN(cmocka_unit_test(test_add), cmocka_unit_test(test_intersect), cmocka_unit_test(test_subtract))
