/* test_map.c - lib/map: building lmdb: tables from text (syntax, continuation lines,
 * comments, case folding, duplicates), lookup and ordered iteration, the malformed
 * sources that must fail with "file:line: reason", atomic rebuild seen by an open
 * handle, and the errors of map_open. */
#include "unit_test.h"
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "map.h"

static char tmpdir[] = "/tmp/test_map.XXXXXX";

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(p);
}

static int setup(void **state)
{
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    return nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Write a source file; returns its path (static buffer). */
static const char *source(const char *name, const char *text, size_t len)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return path;
}

static struct map *open_built(const char *path)
{
    char spec[600], *err = NULL;
    snprintf(spec, sizeof spec, "lmdb:%s", path);
    struct map *m = map_open(spec, &err);
    if (!m)
        fail_msg("map_open %s: %s", spec, err);
    return m;
}

static void expect(struct map *m, const char *key, const char *value)
{
    char *v = NULL, *err = NULL;
    int r = map_lookup(m, key, &v, &err);
    if (value == NULL) {
        if (r != 0)
            fail_msg("%s: expected no entry, got %d \"%s\"", key, r, v ? v : "");
        return;
    }
    if (r != 1 || strcmp(v, value) != 0)
        fail_msg("%s: expected \"%s\", got %d \"%s\"", key, value, r, v ? v : "");
    free(v);
}

static void test_build_and_lookup(void **state)
{
    static const char text[] =
        "# aliases\n"
        "postmaster: alice@example.test\n"
        "Team@Example.TEST   alice@example.test,\n"
        "    bob@example.test\n"
        "\tcarol@example.test\n"
        "\n"
        "   # an indented comment does not end the entry\n"
        "@example.test: catchall@example.test\n"
        "spaces:value with  inner   spaces   \n"
        "crlf: line\r\n";
    const char *path = source("aliases", text, sizeof text - 1);
    struct errlist errs = {0};
    assert_int_equal(map_build(path, &errs), 5);
    assert_int_equal(errs.n, 0);
    struct map *m = open_built(path);
    expect(m, "postmaster", "alice@example.test");
    expect(m, "POSTMASTER", "alice@example.test");
    expect(m, "team@example.test", "alice@example.test, bob@example.test carol@example.test");
    expect(m, "@example.test", "catchall@example.test");
    expect(m, "spaces", "value with  inner   spaces");
    expect(m, "crlf", "line");
    expect(m, "nobody", NULL);
    expect(m, "", NULL);
    map_close(m);
    errlist_free(&errs);
}

/* Next-hop keys (smtp_sasl_password_maps, transport_maps) hold colons inside brackets. */
static void test_bracketed_next_hop_keys(void **state)
{
    static const char text[] =
        "[smtp.example.net]:587 user:pass word\n"
        "[2001:db8::1]:25: other:secret\n"
        "[relay.example] plain\n"
        "[broken key\n"
        "example.com smtp:[mx.example.net]:2525\n";
    const char *path = source("nexthops", text, sizeof text - 1);
    struct errlist errs = {0};
    assert_int_equal(map_build(path, &errs), 5);
    struct map *m = open_built(path);
    expect(m, "[smtp.example.net]:587", "user:pass word");
    expect(m, "[2001:db8::1]:25", "other:secret");
    expect(m, "[relay.example]", "plain");
    expect(m, "[smtp.example.net]", NULL);
    expect(m, "[broken", "key");
    expect(m, "example.com", "smtp:[mx.example.net]:2525");
    map_close(m);
    errlist_free(&errs);
}

/* A secret table (root:GROUP 0640) stays readable by that group once built. */
static void test_built_table_keeps_mode_and_group(void **state)
{
    static const char text[] = "[smtp.example.net]:587 user:secret\n";
    const char *path = source("secret", text, sizeof text - 1);
    if (geteuid() != 0)
        skip();
    assert_int_equal(chown(path, (uid_t)-1, 4242), 0);
    assert_int_equal(chmod(path, 0640), 0);
    struct errlist errs = {0};
    assert_int_equal(map_build(path, &errs), 1);
    char built[600];
    struct stat st;
    snprintf(built, sizeof built, "%s.lmdb", path);
    assert_int_equal(stat(built, &st), 0);
    assert_int_equal(st.st_gid, 4242);
    assert_int_equal(st.st_mode & 0777, 0640);
    errlist_free(&errs);
}

struct collect {
    struct buf b;
    int stop_after;
};

static int collect(void *ctx, const char *k, const char *v)
{
    struct collect *c = ctx;
    buf_printf(&c->b, "%s=%s;", k, v);
    return --c->stop_after == 0 ? 7 : 0;
}

static void test_iterate_in_key_order(void **state)
{
    static const char text[] = "b: 2\na: 1\nab: 3\nB2: 4\n";
    const char *path = source("order", text, sizeof text - 1);
    struct errlist errs = {0};
    assert_int_equal(map_build(path, &errs), 4);
    struct map *m = open_built(path);
    struct collect c = {BUF_INIT, -1};
    assert_int_equal(map_iterate(m, collect, &c), 0);
    assert_string_equal(buf_cstr(&c.b), "a=1;ab=3;b=2;b2=4;");
    buf_reset(&c.b);
    c.stop_after = 2;
    assert_int_equal(map_iterate(m, collect, &c), 7);
    assert_string_equal(buf_cstr(&c.b), "a=1;ab=3;");
    buf_free(&c.b);
    map_close(m);
}

static void test_duplicate_is_warning_first_kept(void **state)
{
    static const char text[] = "x: first\ny: other\nX: second\n";
    const char *path = source("dups", text, sizeof text - 1);
    struct errlist errs = {0};
    assert_int_equal(map_build(path, &errs), 2);
    assert_int_equal(errs.n, 1);
    assert_int_equal(errlist_errors(&errs), 0);
    assert_non_null(strstr(errs.msgs[0], "dups:3: duplicate key \"x\""));
    struct map *m = open_built(path);
    expect(m, "x", "first"); /* as postmap and postalias */
    map_close(m);
    errlist_free(&errs);
}

static void test_malformed_sources(void **state)
{
    static const struct {
        const char *text;
        size_t len; /* 0: strlen */
        const char *error;
    } t[] = {
        {"ok: 1\nnovalue\n", 0, "bad:2: missing value for \"novalue\""},
        {"ok: 1\nempty:   \n", 0, "bad:2: missing value for \"empty\""},
        {"  leading: continuation\n", 0, "bad:1: continuation line without a preceding entry"},
        {": value\n", 0, "bad:1: missing key"},
        {"a: 1\nb: x\0y\n", 11, "bad:2: NUL byte in line"},
        {NULL, 0, "bad:1: line too long"},
        {NULL, 0, "bad:1: key longer than 511 bytes"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char *owned = NULL;
        const char *text = t[i].text;
        size_t len = t[i].len;
        if (i == 5) { /* a 70000-byte line */
            owned = malloc(70002);
            memcpy(owned, "k: ", 3);
            memset(owned + 3, 'v', 69998);
            owned[70001] = '\n';
            text = owned, len = 70002;
        } else if (i == 6) {
            owned = malloc(600);
            memset(owned, 'k', 596);
            memcpy(owned + 596, ": v\n", 4);
            text = owned, len = 600;
        }
        const char *path = source("bad", text, len ? len : strlen(text));
        char lmdb[600];
        snprintf(lmdb, sizeof lmdb, "%s.lmdb", path);
        unlink(lmdb);
        struct errlist errs = {0};
        if (map_build(path, &errs) != -1)
            fail_msg("case %zu built", i);
        bool found = false;
        for (size_t e = 0; e < errs.n; e++)
            found |= strstr(errs.msgs[e], t[i].error) != NULL;
        if (!found)
            fail_msg("case %zu: \"%s\" not among %zu messages (first: %s)", i, t[i].error, errs.n,
                     errs.n ? errs.msgs[0] : "-");
        assert_int_equal(access(lmdb, F_OK), -1); /* nothing written */
        errlist_free(&errs);
        free(owned);
    }
}

static void test_rebuild_is_seen_by_open_handle(void **state)
{
    const char *path = source("live", "k: old\n", 7);
    struct errlist errs = {0};
    assert_int_equal(map_build(path, &errs), 1);
    struct map *m = open_built(path);
    expect(m, "k", "old");
    source("live", "k: new\nj: added\n", 16);
    assert_int_equal(map_build(path, &errs), 2);
    sleep(2); /* handles look for a replaced file at most once a second */
    expect(m, "k", "new");
    expect(m, "j", "added");
    /* a failed rebuild leaves the installed table alone */
    source("live", "broken\n", 7);
    assert_int_equal(map_build(path, &errs), -1);
    sleep(2);
    expect(m, "k", "new");
    map_close(m);
    errlist_free(&errs);
}

static void test_open_errors(void **state)
{
    char *err = NULL, spec[600];
    errno = 0;
    snprintf(spec, sizeof spec, "lmdb:%s/does-not-exist", tmpdir);
    assert_null(map_open(spec, &err));
    assert_int_equal(errno, ENOENT);
    free(err);
    err = NULL;
    assert_null(map_open("hash:/etc/aliases", &err));
    assert_non_null(strstr(err, "unsupported map type"));
    free(err);
    err = NULL;
    assert_null(map_open("no-type", &err));
    free(err);
    struct errlist errs = {0};
    snprintf(spec, sizeof spec, "%s/missing-source", tmpdir);
    assert_int_equal(map_build(spec, &errs), -1);
    assert_int_equal(errlist_errors(&errs), 1);
    errlist_free(&errs);
}

/* Aliases sources: every bad entry reported at its first line, nothing written; a good
 * one builds; commands and files only as the rules allow and never in a source others
 * can write. */
static void test_aliases_syntax(void **state)
{
    const char *text = "root: alice\n"
                       "noColon alice\n"
                       "team@example.test: alice,\n"
                       "  \"|/bin/cmd\n"
                       ": empty\n"
                       "ok: |/bin/true, /tmp/mbox\n"
                       "bad@: x\n";
    const char *path = source("aliases", text, strlen(text));
    char lmdb[600];
    snprintf(lmdb, sizeof lmdb, "%s.lmdb", path);
    unlink(lmdb);
    struct errlist errs = {0};
    struct alias_rules none = {false, false}, all = {true, true};
    assert_int_equal(map_build_aliases(path, &none, &errs), -1);
    const char *want[] = {"aliases:2: missing ':' after the name (\"noColon\")",
                          "aliases:3: team@example.test: unterminated quoted string",
                          "aliases:5: empty name",
                          "aliases:6: ok: \"|/bin/true\": mail to commands is not allowed",
                          "aliases:6: ok: \"/tmp/mbox\": mail to files is not allowed",
                          "aliases:7: not an address"};
    assert_int_equal(errlist_errors(&errs), sizeof want / sizeof want[0]);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(errs.msgs[i], want[i]))
            fail_msg("error %zu: \"%s\", wanted \"%s\"", i, errs.msgs[i], want[i]);
    errlist_free(&errs);
    assert_int_equal(access(lmdb, F_OK), -1);

    text = "root: alice\nok: |/bin/true, /tmp/mbox, :include:/etc/x\n";
    path = source("aliases", text, strlen(text));
    chmod(path, 0600);
    assert_int_equal(map_build_aliases(path, &all, &errs), 2);
    errlist_free(&errs);
    chmod(path, 0620);
    assert_int_equal(map_build_aliases(path, &all, &errs), -1);
    assert_non_null(strstr(errs.msgs[0], "writable by group or others"));
    errlist_free(&errs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_and_lookup),
        cmocka_unit_test(test_bracketed_next_hop_keys),
        cmocka_unit_test(test_built_table_keeps_mode_and_group),
        cmocka_unit_test(test_iterate_in_key_order),
        cmocka_unit_test(test_duplicate_is_warning_first_kept),
        cmocka_unit_test(test_malformed_sources),
        cmocka_unit_test(test_rebuild_is_seen_by_open_handle),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_aliases_syntax),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
