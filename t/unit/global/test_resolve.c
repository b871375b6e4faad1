/* test_resolve.c - lib/accounts and lib/resolve: domains (database and
 * virtual_mailbox_domains), users with quota and hash, list/delete, a read-only handle
 * seeing a writer's changes and a file that appears later, and recipient classification
 * in the documented order (aliases, users, extensions, catch-all, missing or unreadable
 * alias tables), and whether an address's domain is one of ours. */
#include "unit_test.h"
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accounts.h"
#include "buf.h"
#include "fileio.h"
#include "resolve.h"

static char dir[] = "/tmp/test_resolve.XXXXXX";

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) { return remove(p); }
static int setup(void **state) { return mkdtemp(dir) ? 0 : -1; }
static int teardown(void **state) { return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static struct config *make_config(const char *db, const char *aliases)
{
    struct config *cfg = config_defaults(dir);
    struct errlist errs = {0};
    char a[600];
    snprintf(a, sizeof a, "account_database=%s/%s", dir, db);
    assert_true(config_override(cfg, a, "test", &errs));
    snprintf(a, sizeof a, "alias_maps=%s", aliases);
    assert_true(config_override(cfg, a, "test", &errs));
    assert_true(config_override(cfg, "virtual_mailbox_domains=Static.TEST", "test", &errs));
    assert_true(config_override(cfg, "virtual_mailbox_quota=5000", "test", &errs));
    assert_true(config_override(cfg, "myorigin=example.test", "test", &errs));
    errlist_free(&errs);
    return cfg;
}

static void add_user(struct accounts *a, const char *addr, long long quota)
{
    struct account_user u = {(char *)addr, "{ARGON2ID}$argon2id$fake", quota};
    char *err = NULL;
    if (accounts_user_put(a, &u, &err) != 0)
        fail_msg("user_put %s: %s", addr, err);
}

static int count_cb(void *ctx, const struct account_user *u)
{
    buf_printf(ctx, "%s/%lld;", u->address, u->quota);
    return 0;
}

static int domain_cb(void *ctx, const char *d)
{
    buf_printf(ctx, "%s;", d);
    return 0;
}

static void test_accounts(void **state)
{
    struct config *cfg = make_config("acc.lmdb", "");
    char *err = NULL;
    /* read-only before the file exists: opens, but lookups fail (callers defer) except for
     * the domains listed in main.cf */
    struct accounts *ro = accounts_open(cfg, false, &err);
    assert_non_null(ro);
    assert_int_equal(accounts_domain_exists(ro, "example.test"), -1);
    assert_int_equal(accounts_domain_exists(ro, "static.test"), 1);
    struct accounts *rw = accounts_open(cfg, true, &err);
    assert_non_null(rw);
    struct stat st;
    char path[600];
    snprintf(path, sizeof path, "%s/acc.lmdb", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0660);
    assert_int_equal(accounts_domain_add(rw, "Example.TEST", &err), 0);
    assert_int_equal(accounts_domain_add(rw, "example.test", &err), 0);
    assert_int_equal(accounts_domain_add(rw, "bad/domain", &err), -1);
    free(err);
    err = NULL;
    assert_int_equal(accounts_domain_add(rw, "other.test", &err), 0);
    add_user(rw, "Alice@Example.test", -1);
    add_user(rw, "bob@example.test", 0);
    add_user(rw, "carol@example.test", 123);
    struct account_user bad = {"no-at-sign", "", -1};
    assert_int_equal(accounts_user_put(rw, &bad, &err), -1);
    free(err);
    err = NULL;
    /* the read-only handle opens the file once it exists */
    assert_int_equal(accounts_domain_exists(ro, "EXAMPLE.test"), 1);
    struct account_user u;
    assert_int_equal(accounts_user_get(ro, "ALICE@example.test", &u, &err), 1);
    assert_string_equal(u.address, "alice@example.test");
    assert_string_equal(u.password_hash, "{ARGON2ID}$argon2id$fake");
    assert_int_equal(accounts_user_quota(cfg, &u), 5000);
    account_user_free(&u);
    assert_int_equal(accounts_user_get(ro, "carol@example.test", &u, &err), 1);
    assert_int_equal(accounts_user_quota(cfg, &u), 123);
    account_user_free(&u);
    assert_int_equal(accounts_user_get(ro, "nobody@example.test", &u, &err), 0);
    struct buf b = BUF_INIT;
    assert_int_equal(accounts_user_list(ro, count_cb, &b), 0);
    assert_string_equal(buf_cstr(&b), "alice@example.test/-1;bob@example.test/0;carol@example.test/123;");
    buf_reset(&b);
    assert_int_equal(accounts_domain_list(ro, domain_cb, &b), 0);
    assert_string_equal(buf_cstr(&b), "example.test;other.test;");
    buf_free(&b);
    assert_int_equal(accounts_user_del(rw, "bob@example.test", &err), 0);
    assert_int_equal(accounts_user_del(rw, "bob@example.test", &err), -1);
    assert_non_null(strstr(err, "no such user"));
    free(err);
    err = NULL;
    assert_int_equal(accounts_domain_del(rw, "other.test", &err), 0);
    assert_int_equal(accounts_domain_exists(ro, "other.test"), 0);
    assert_int_equal(accounts_user_get(ro, "bob@example.test", &u, &err), 0);
    assert_int_equal(accounts_domain_add(ro, "x.test", &err), -1); /* read-only handle */
    free(err);
    accounts_close(rw);
    accounts_close(ro);
    config_free(cfg);
}

static enum rcpt_class classify(struct resolver *r, const char *addr, const char *want_result,
                                const char *want_ext)
{
    char *result = NULL, *ext = NULL;
    enum rcpt_class c = resolve_recipient(r, addr, &result, &ext);
    if ((want_result == NULL) != (result == NULL) || (result && strcmp(result, want_result)))
        fail_msg("%s: result \"%s\", expected \"%s\"", addr, result ? result : "(null)",
                 want_result ? want_result : "(null)");
    if ((want_ext == NULL) != (ext == NULL) || (ext && strcmp(ext, want_ext)))
        fail_msg("%s: extension \"%s\", expected \"%s\"", addr, ext ? ext : "(null)",
                 want_ext ? want_ext : "(null)");
    free(result);
    free(ext);
    return c;
}

static void test_resolve(void **state)
{
    char src[600], spec[700], *err = NULL;
    snprintf(src, sizeof src, "%s/aliases", dir);
    static const char text[] = "team@example.test: alice@example.test, bob@remote.test\n"
                               "alice+special@example.test: carol@example.test\n"
                               "list@example.test: alice\n"
                               "@example.test: alice@example.test\n";
    assert_int_equal(write_file_atomic(src, text, sizeof text - 1, 0644), 0);
    struct errlist errs = {0};
    assert_int_equal(map_build(src, &errs), 4);
    /* the second table does not exist: it holds no aliases */
    snprintf(spec, sizeof spec, "lmdb:%s, lmdb:%s/not-built", src, dir);
    struct config *cfg = make_config("res.lmdb", spec);
    struct accounts *rw = accounts_open(cfg, true, &err);
    assert_int_equal(accounts_domain_add(rw, "example.test", &err), 0);
    add_user(rw, "alice@example.test", -1);
    add_user(rw, "carol@example.test", -1);
    add_user(rw, "x@static.test", -1);
    struct resolver *r = resolver_open(cfg, &err);
    assert_non_null(r);
    assert_int_equal(classify(r, "Alice@EXAMPLE.test", "alice@example.test", NULL), RCPT_USER);
    assert_int_equal(classify(r, "alice+Lists@example.test", "alice@example.test", "Lists"), RCPT_USER);
    assert_int_equal(classify(r, "alice+special@example.test", "carol@example.test", NULL), RCPT_ALIAS);
    assert_int_equal(classify(r, "team@example.test", "alice@example.test, bob@remote.test", NULL), RCPT_ALIAS);
    assert_int_equal(classify(r, "team+x@example.test", "alice@example.test, bob@remote.test", NULL), RCPT_ALIAS);
    assert_int_equal(classify(r, "carol@example.test", "carol@example.test", NULL), RCPT_USER);
    /* the catch-all applies only where no user or alias matched */
    assert_int_equal(classify(r, "whoever@example.test", "alice@example.test", NULL), RCPT_ALIAS);
    assert_int_equal(classify(r, "x@static.test", "x@static.test", NULL), RCPT_USER);
    assert_int_equal(classify(r, "y@static.test", NULL, NULL), RCPT_UNKNOWN);
    assert_int_equal(classify(r, "someone@remote.test", NULL, NULL), RCPT_REMOTE);
    assert_int_equal(classify(r, "carol", "carol@example.test", NULL), RCPT_USER); /* $myorigin */
    assert_int_equal(classify(r, "+x@static.test", NULL, NULL), RCPT_UNKNOWN);
    /* whose domain is ours (the backscatter rule of qmgr/finish.c asks for senders) */
    assert_int_equal(resolve_domain_is_ours(r, "Nobody@EXAMPLE.test"), 1);
    assert_int_equal(resolve_domain_is_ours(r, "y@static.test"), 1);  /* main.cf */
    assert_int_equal(resolve_domain_is_ours(r, "someone@remote.test"), 0);
    assert_int_equal(resolve_domain_is_ours(r, "carol"), 1);          /* $myorigin */
    assert_int_equal(resolve_domain_is_ours(r, "x@"), 0);
    /* without aliases */
    char *res = NULL;
    assert_int_equal(resolve_mailbox(r, "team@example.test", &res, NULL), RCPT_UNKNOWN);
    assert_int_equal(resolve_mailbox(r, "alice+z@example.test", &res, NULL), RCPT_USER);
    assert_string_equal(res, "alice@example.test");
    free(res);
    /* an alias table that exists but cannot be read: temporary failure */
    char lmdb[700];
    snprintf(lmdb, sizeof lmdb, "%s/not-built.lmdb", dir);
    assert_int_equal(write_file_atomic(lmdb, "garbage", 7, 0644), 0);
    sleep(1);
    assert_int_equal(classify(r, "nobody@example.test", NULL, NULL), RCPT_TEMPFAIL);
    assert_int_equal(unlink(lmdb), 0);
    sleep(1);
    assert_int_equal(classify(r, "nobody@example.test", "alice@example.test", NULL), RCPT_ALIAS);
    resolver_close(r);
    accounts_close(rw);
    config_free(cfg);
    errlist_free(&errs);
    /* an unsupported table type is a configuration error */
    cfg = make_config("res.lmdb", "hash:/etc/aliases");
    assert_null(resolver_open(cfg, &err));
    assert_non_null(strstr(err, "unsupported map type"));
    free(err);
    config_free(cfg);
}

static int collect(void *ctx, const char *target, bool supported)
{
    struct buf *b = ctx;
    buf_printf(b, "%s%s;", supported ? "" : "!", target);
    return strcmp(target, "stop@x.test") == 0;
}

/* The targets of an alias value, as local-mda expands them and submission's sender policy
 * follows them. */
static void test_alias_targets(void **state)
{
    struct buf b = BUF_INIT;
    size_t n = 0;
    assert_int_equal(resolve_alias_targets("a@x.test", "b@y.test, <c@z.test>\tlocal,,  |cmd /f",
                                           collect, &b, &n), 0);
    assert_string_equal(buf_cstr(&b), "b@y.test;c@z.test;local@x.test;!|cmd /f;");
    assert_int_equal(n, 4);
    buf_reset(&b);
    assert_int_equal(resolve_alias_targets("a@x.test", "stop, after", collect, &b, &n), 1);
    assert_string_equal(buf_cstr(&b), "stop@x.test;");
    buf_reset(&b);
    assert_int_equal(resolve_alias_targets("a@x.test", " , ", collect, &b, &n), 0);
    assert_int_equal(n, 0);
    buf_free(&b);
}

static enum rcpt_class alias_of(struct resolver *r, const char *addr, const char *value,
                                const char *key)
{
    char *res = NULL;
    struct alias_hit hit;
    enum rcpt_class c = resolve_alias(r, addr, &res, &hit);
    if (value) {
        assert_non_null(res);
        assert_string_equal(res, value);
    }
    if (key) {
        assert_int_equal(c, RCPT_ALIAS);
        assert_string_equal(hit.key, key);
        assert_int_equal(hit.local_part, strchr(key, '@') == NULL);
        assert_true(hit.from_table);
        assert_int_equal(hit.owner, geteuid());
        assert_int_equal(hit.mode & 0777, 0640);
    } else {
        assert_null(hit.key);
    }
    free(res);
    alias_hit_free(&hit);
    return c;
}

/* Local-part keys (aliases(5)): in every domain of ours by default, after address keys and
 * mailboxes, before the catch-all; only in alias_local_part_domains when it is set. */
static void test_local_part_keys(void **state)
{
    char src[600], spec[700], *err = NULL;
    snprintf(src, sizeof src, "%s/local-aliases", dir);
    static const char text[] = "root: alice\ninfo: bob\nroot@other.test: x@remote.test\n"
                               "@other.test: carol@other.test\n";
    assert_int_equal(write_file_atomic(src, text, sizeof text - 1, 0640), 0);
    struct errlist errs = {0};
    assert_int_equal(map_build(src, &errs), 4);
    snprintf(spec, sizeof spec, "lmdb:%s", src);
    struct config *cfg = make_config("local.lmdb", spec);
    struct accounts *rw = accounts_open(cfg, true, &err);
    assert_int_equal(accounts_domain_add(rw, "example.test", &err), 0);
    assert_int_equal(accounts_domain_add(rw, "other.test", &err), 0);
    add_user(rw, "info@example.test", -1);
    struct resolver *r = resolver_open(cfg, &err);
    assert_int_equal(alias_of(r, "Root@example.test", "alice", "root"), RCPT_ALIAS);
    assert_int_equal(alias_of(r, "root+tag@static.test", "alice", "root"), RCPT_ALIAS);
    assert_int_equal(alias_of(r, "root@other.test", "x@remote.test", "root@other.test"), RCPT_ALIAS);
    assert_int_equal(alias_of(r, "info@example.test", "info@example.test", NULL), RCPT_USER);
    assert_int_equal(alias_of(r, "info@other.test", "bob", "info"), RCPT_ALIAS);
    assert_int_equal(alias_of(r, "nobody@other.test", "carol@other.test", "@other.test"), RCPT_ALIAS);
    assert_int_equal(alias_of(r, "root@remote.test", NULL, NULL), RCPT_REMOTE);
    resolver_close(r);
    /* restricted to one domain */
    assert_true(config_override(cfg, "alias_local_part_domains=example.test", "test", &errs));
    r = resolver_open(cfg, &err);
    assert_int_equal(alias_of(r, "root@example.test", "alice", "root"), RCPT_ALIAS);
    assert_int_equal(alias_of(r, "info@other.test", "carol@other.test", "@other.test"), RCPT_ALIAS);
    assert_int_equal(alias_of(r, "root@static.test", NULL, NULL), RCPT_UNKNOWN);
    resolver_close(r);
    accounts_close(rw);
    config_free(cfg);
    errlist_free(&errs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accounts),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_alias_targets),
        cmocka_unit_test(test_local_part_keys),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
