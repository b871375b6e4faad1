/* test_lmdb_env.c - lib/util/lmdb_env.c on real files in a temporary directory: open and
 * read back, a file replaced underneath by rename (as posthorn map build does) is noticed
 * (and only once a second when throttled) and opening again shows the new content, a
 * deleted file counts as replaced, and a map grown by another process (a forked writer)
 * is adopted by lmdb_txn_begin where a plain mdb_txn_begin fails with MDB_MAP_RESIZED, and
 * processes opening one file together while signals arrive (a stop during startup) all
 * succeed: mdb_env_open's EINTR is retried. */
#include "unit_test.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lmdb_env.h"

struct fixture {
    char dir[64];
    char path[128], tmp[128];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/test_lmdb_env.XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/db.lmdb", f->dir);
    snprintf(f->tmp, sizeof f->tmp, "%s/db.lmdb.new", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

static const struct lmdb_env_options writer = {.mode = 0600, .mapsize = 1 << 20,
                                               .check_readers = true};
static const struct lmdb_env_options reader = {.flags = MDB_RDONLY | MDB_NOLOCK};

static void put(MDB_env *env, const char *key, const void *value, size_t len)
{
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(lmdb_txn_begin(env, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
    MDB_val k = {strlen(key), (void *)key}, v = {len, (void *)value};
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
}

/* The value of key as a string ("" when missing) in out. */
static const char *get(MDB_env *env, const char *key, char *out, size_t outlen)
{
    MDB_txn *txn;
    MDB_dbi dbi;
    out[0] = 0;
    assert_int_equal(lmdb_txn_begin(env, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
    MDB_val k = {strlen(key), (void *)key}, v;
    if (mdb_get(txn, dbi, &k, &v) == 0)
        snprintf(out, outlen, "%.*s", (int)v.mv_size, (const char *)v.mv_data);
    mdb_txn_abort(txn);
    return out;
}

/* Write a file at path holding key=value, through an environment closed again. */
static void write_file(const char *path, const char *key, const char *value)
{
    struct lmdb_env le = {0};
    char *err = NULL;
    assert_int_equal(lmdb_env_open(&le, path, &writer, &err), 0);
    put(le.env, key, value, strlen(value));
    lmdb_env_close(&le);
    assert_null(le.env);
}

static void test_open_and_read(void **state)
{
    struct fixture *f = *state;
    char v[64];
    write_file(f->path, "alice", "one");
    struct lmdb_env le = {0};
    char *err = NULL;
    assert_int_equal(lmdb_env_open(&le, f->path, &reader, &err), 0);
    assert_string_equal(get(le.env, "alice", v, sizeof v), "one");
    assert_false(lmdb_env_replaced(&le, f->path, false));
    lmdb_env_close(&le);
}

static void test_open_missing_says_why(void **state)
{
    struct fixture *f = *state;
    struct lmdb_env le = {0};
    char *err = NULL;
    assert_int_not_equal(lmdb_env_open(&le, f->path, &reader, &err), 0);
    assert_null(le.env);
    assert_non_null(err);
    assert_non_null(strstr(err, f->path));
    free(err);
}

static void test_replaced_file_is_noticed_and_reopened(void **state)
{
    struct fixture *f = *state;
    char v[64];
    write_file(f->path, "alice", "old");
    struct lmdb_env le = {0};
    char *err = NULL;
    assert_int_equal(lmdb_env_open(&le, f->path, &reader, &err), 0);
    write_file(f->tmp, "alice", "new");
    assert_int_equal(rename(f->tmp, f->path), 0);
    assert_string_equal(get(le.env, "alice", v, sizeof v), "old"); /* its snapshot */

    le.checked = time(NULL);
    assert_false(lmdb_env_replaced(&le, f->path, true)); /* looked this second already */
    le.checked = 0;
    assert_true(lmdb_env_replaced(&le, f->path, true));
    assert_true(lmdb_env_replaced(&le, f->path, false));

    struct lmdb_env fresh = {0};
    assert_int_equal(lmdb_env_open(&fresh, f->path, &reader, &err), 0);
    lmdb_env_close(&le);
    assert_string_equal(get(fresh.env, "alice", v, sizeof v), "new");
    assert_false(lmdb_env_replaced(&fresh, f->path, false));
    assert_int_equal(unlink(f->path), 0);
    assert_true(lmdb_env_replaced(&fresh, f->path, false)); /* deleted */
    lmdb_env_close(&fresh);
}

/* In a child: open the file with a larger map and fill it beyond the parent's map. */
static void grow_in_child(const char *path)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct lmdb_env_options big = writer;
        big.mapsize = 16 << 20;
        struct lmdb_env le = {0};
        char *err = NULL;
        static char value[4000];
        memset(value, 'v', sizeof value);
        if (lmdb_env_open(&le, path, &big, &err) != 0)
            _exit(1);
        MDB_txn *txn;
        MDB_dbi dbi;
        if (mdb_txn_begin(le.env, NULL, 0, &txn) != 0 || mdb_dbi_open(txn, NULL, 0, &dbi) != 0)
            _exit(2);
        for (int i = 0; i < 1000; i++) { /* about 4 MB */
            char key[16];
            snprintf(key, sizeof key, "k%04d", i);
            MDB_val k = {strlen(key), key}, v = {sizeof value, value};
            if (mdb_put(txn, dbi, &k, &v, 0) != 0)
                _exit(3);
        }
        MDB_val k = {5, "grown"}, v = {3, "yes"};
        if (mdb_put(txn, dbi, &k, &v, 0) != 0 || mdb_txn_commit(txn) != 0)
            _exit(4);
        lmdb_env_close(&le);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_map_grown_by_another_writer(void **state)
{
    struct fixture *f = *state;
    char v[64];
    struct lmdb_env le = {0};
    char *err = NULL;
    assert_int_equal(lmdb_env_open(&le, f->path, &writer, &err), 0);
    put(le.env, "first", "1", 1);
    grow_in_child(f->path);

    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(le.env, NULL, MDB_RDONLY, &txn), MDB_MAP_RESIZED);
    assert_string_equal(get(le.env, "grown", v, sizeof v), "yes"); /* lmdb_txn_begin adopts */
    put(le.env, "after", "2", 1); /* and writes go on in the grown map */
    assert_string_equal(get(le.env, "after", v, sizeof v), "2");
    MDB_envinfo info;
    assert_int_equal(mdb_env_info(le.env, &info), 0);
    assert_true(info.me_mapsize >= (size_t)(16 << 20));
    lmdb_env_close(&le);
}

/* LMDB's one-open-per-process rule: a second open of the same file (two handles of the
 * account database in one process) shares the first's environment, which stays usable
 * until its last user closes it; a replaced file gets an environment of its own. */
static void test_second_open_shares_the_environment(void **state)
{
    struct fixture *f = *state;
    write_file(f->path, "k", "one");
    struct lmdb_env a = {0}, b = {0}, c = {0};
    char *err = NULL, out[16];
    const struct lmdb_env_options ro = {.flags = MDB_RDONLY, .check_readers = true};
    assert_int_equal(lmdb_env_open(&a, f->path, &ro, &err), 0);
    assert_int_equal(lmdb_env_open(&b, f->path, &ro, &err), 0);
    assert_ptr_equal(a.env, b.env);
    lmdb_env_close(&a);
    assert_string_equal(get(b.env, "k", out, sizeof out), "one");
    write_file(f->tmp, "k", "two");
    assert_int_equal(rename(f->tmp, f->path), 0);
    assert_int_equal(lmdb_env_open(&c, f->path, &ro, &err), 0);
    assert_ptr_not_equal(c.env, b.env);
    assert_string_equal(get(c.env, "k", out, sizeof out), "two");
    assert_string_equal(get(b.env, "k", out, sizeof out), "one");
    lmdb_env_close(&b);
    lmdb_env_close(&c);
}

static void on_alarm(int sig)
{
    (void)sig;
}

/* A child: open PATH as a locking reader with a signal (handler, no SA_RESTART) every 20
 * microseconds; exit 0 when it opened, 1 when it failed. */
static _Noreturn void open_under_signals(const char *path)
{
    struct sigaction sa = {.sa_handler = on_alarm};
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 20}, {0, 20}};
    setitimer(ITIMER_REAL, &it, NULL);
    const struct lmdb_env_options locking_reader = {.flags = MDB_RDONLY, .maxreaders = 64,
                                                    .check_readers = true};
    struct lmdb_env le = {0};
    char *err = NULL;
    int rc = lmdb_env_open(&le, path, &locking_reader, &err);
    if (rc != 0)
        fprintf(stderr, "child: %s\n", err);
    _exit(rc == 0 ? 0 : 1);
}

static void test_signals_while_others_open(void **state)
{
    struct fixture *f = *state;
    write_file(f->path, "k", "v");
    int failed = 0;
    for (int round = 0; round < 150; round++) {
        pid_t kids[6];
        for (int i = 0; i < 6; i++) {
            kids[i] = fork();
            assert_true(kids[i] >= 0);
            if (kids[i] == 0)
                open_under_signals(f->path);
        }
        for (int i = 0; i < 6; i++) {
            int st;
            assert_int_equal(waitpid(kids[i], &st, 0), kids[i]);
            failed += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
        }
    }
    assert_int_equal(failed, 0);
}

UNIT_TEST_MAIN(cmocka_unit_test_setup_teardown(test_signals_while_others_open, setup, teardown),
               cmocka_unit_test_setup_teardown(test_second_open_shares_the_environment, setup, teardown),
               cmocka_unit_test_setup_teardown(test_open_and_read, setup, teardown),
               cmocka_unit_test_setup_teardown(test_open_missing_says_why, setup, teardown),
               cmocka_unit_test_setup_teardown(test_replaced_file_is_noticed_and_reopened, setup, teardown),
               cmocka_unit_test_setup_teardown(test_map_grown_by_another_writer, setup, teardown))
