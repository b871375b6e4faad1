/* spool_fixture.h - a fresh spool for the global layer's unit tests: a temporary directory
 * holding every queue directory (queue_dirs), malloc'ed path; the test removes it. */
#ifndef POSTHORN_SPOOL_FIXTURE_H
#define POSTHORN_SPOOL_FIXTURE_H
#include "unit_test.h"
#include "mem.h"
#include "queue.h"
#include <stdlib.h>
#include <sys/stat.h>

static inline char *make_spool(void)
{
    char tmpl[] = "/tmp/posthorn-test-spool-XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    for (const char *const *q = queue_dirs; *q; q++) {
        char *p = xasprintf("%s/%s", dir, *q);
        assert_int_equal(mkdir(p, 0700), 0);
        free(p);
    }
    return xstrdup(dir);
}

#endif
