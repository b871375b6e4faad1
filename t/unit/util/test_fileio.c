/* test_fileio.c - lib/util/fileio: fsync_dir_moved syncs a directory that is there, and for
 * one renamed away since (a folder RENAMEd while a STORE's syncs waited) falls back to a
 * syncfs of its nearest ancestor instead of failing or skipping it; other errors stay. */
#include "unit_test.h"

#include "fileio.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_fsync_dir_moved(void **state)
{
    (void)state;
    char root[] = "/tmp/posthorn-fileio-XXXXXX", a[64], b[64], c[64], moved[64];
    assert_non_null(mkdtemp(root));
    snprintf(a, sizeof a, "%s/a", root);
    snprintf(b, sizeof b, "%s/a/cur", root);
    snprintf(c, sizeof c, "%s/c", root);
    snprintf(moved, sizeof moved, "%s/c/cur", root);
    assert_int_equal(mkdir(a, 0700), 0);
    assert_int_equal(mkdir(b, 0700), 0);
    assert_int_equal(fsync_dir_moved(b), 0);
    assert_int_equal(rename(a, c), 0); /* the folder renamed: b is gone, its entries in c/cur */
    assert_int_equal(fsync_dir(b), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(fsync_dir_moved(b), 0);
    char file[80];
    snprintf(file, sizeof file, "%s/f", root);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(b, sizeof b, "%s/f/cur", root); /* not a directory on the way: not the fallback */
    assert_int_equal(fsync_dir_moved(b), -1);
    assert_int_equal(errno, ENOTDIR);
    unlink(file);
    rmdir(moved);
    rmdir(c);
    rmdir(root);
}

UNIT_TEST_MAIN(cmocka_unit_test(test_fsync_dir_moved))
