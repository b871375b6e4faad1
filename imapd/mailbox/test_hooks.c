/* test_hooks.c - delays the tests put on the worker threads and between the slices of a
 * folder sync (t/run's builds only, the CMake option POSTHORN_TEST_HOOKS): a test sets
 * POSTHORN_TEST_SYNC_DELAY_MS (durable.c) or POSTHORN_TEST_SCAN_DELAY_MS (folder_scan.c) to
 * N (POSTHORN_TEST_TRASH_DELAY_MS: trash.c), and every job of that thread takes N ms
 * longer, so the test can see replies wait while
 * the loop goes on serving; POSTHORN_TEST_SLICE_DELAY_MS (cmd_select.c) puts N ms between
 * two slices, so that it can look at the folder half indexed. */
#include "imap_mailbox.h"
#include <stdlib.h>
#include <time.h>

long test_hook_ms(const char *env)
{
#ifdef POSTHORN_TEST_HOOKS
    const char *ms = getenv(env);
    long n = ms ? strtol(ms, NULL, 10) : 0;
    return n > 0 ? n : 0;
#else
    (void)env;
    return 0;
#endif
}

void test_hook_delay(const char *env)
{
    long n = test_hook_ms(env);
    if (n > 0)
        nanosleep(&(struct timespec){n / 1000, (n % 1000) * 1000000}, NULL);
}
