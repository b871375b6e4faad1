/* accounts.c - the account database (see accounts.h): one LMDB file (account_database,
 * MDB_NOSUBDIR, lock file beside it as FILE-lock) with two named databases:
 *   domains: "example.test"       -> "v1\t<created unix time>"
 *   users:   "alice@example.test" -> "v1\t<quota>\t<password hash>"
 * Values carry a version so the record layout can change. Writers are the CLI (as root or
 * the instance user); readers (smtpd as mail_owner, local-mda and POP3/IMAP as vmail_owner)
 * open read-only but still need to write LMDB's lock file (reader slots): the file and its
 * -lock must be readable and writable by both users (doc/mailstore.md, "Permissions").
 * A missing file is an error for every lookup (ACC_MISSING: callers answer "try again
 * later", never "no such user" or "relay denied"); posthorn init creates it and posthorn
 * check reports its absence. A file replaced under a running process (deleted, rebuilt) is
 * noticed within a second and reopened. */
#include "accounts.h"
#include "idn.h"
#include "lmdb_env.h"
#include "mem.h"
#include <ctype.h>
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#define ACC_MAPSIZE (1024LL * 1024 * 1024) /* address space only; the file grows as needed */
#define ACC_KEY_MAX 320                    /* RFC 5321 limits: 64 + 1 + 255 */
#define ACC_MODE 0660
#define ACC_MAXREADERS 1024 /* fixed by whoever creates the lock file */
#define ACC_MISSING (-30700) /* beside LMDB's own codes (-30800 .. -30780) */

struct accounts {
    struct config *cfg;
    char *path;
    bool writable;
    struct lmdb_env le; /* le.env NULL: read-only and the file does not exist (yet) */
    MDB_dbi domains, users;
    bool have_dbis;
    time_t last_try; /* last attempt to open a missing file or its databases */
};

/* The stored form of a domain or an address: lowercase, with the domain in A-labels
 * (RFC 5890: "bücher.test" is stored as "xn--bcher-kva.test"). */
static char *lower(const char *s)
{
    const char *at = strrchr(s, '@');
    char *dom = idn_domain_ascii(at ? at + 1 : s);
    char *r;
    if (!dom) /* not a valid IDN: keep the bytes (lowercased); validation rejects them */
        r = xstrdup(s);
    else if (at)
        r = xasprintf("%.*s@%s", (int)(at - s), s, dom);
    else
        r = xstrdup(dom);
    free(dom);
    for (char *p = r; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return r;
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Open the named databases (creating them when writable). 0, MDB_NOTFOUND or an error. */
static int open_dbis(struct accounts *a)
{
    MDB_txn *txn;
    unsigned flags = a->writable ? MDB_CREATE : 0;
    int rc = mdb_txn_begin(a->le.env, NULL, a->writable ? 0 : MDB_RDONLY, &txn);
    if (rc != 0)
        return rc;
    rc = mdb_dbi_open(txn, "domains", flags, &a->domains);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "users", flags, &a->users);
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    a->have_dbis = rc == 0;
    return rc;
}

static int open_env(struct accounts *a, char **err)
{
    char *lock = xasprintf("%s-lock", a->path);
    bool created = !file_exists(a->path), lock_created = !file_exists(lock);
    /* maxreaders: one slot per reading process: every smtpd, qmgr, local-mda, login ... */
    const struct lmdb_env_options o = {.flags = a->writable ? 0 : MDB_RDONLY, .mode = ACC_MODE,
                                       .maxdbs = 4, .maxreaders = ACC_MAXREADERS,
                                       .mapsize = (size_t)ACC_MAPSIZE, .check_readers = true};
    if (lmdb_env_open(&a->le, a->path, &o, err) != 0) {
        free(lock);
        return -1;
    }
    /* The creator's umask must not take the group's access away (see the file comment). */
    if (a->writable && created)
        (void)chmod(a->path, ACC_MODE);
    if (lock_created && file_exists(lock))
        (void)chmod(lock, ACC_MODE);
    free(lock);
    int rc = open_dbis(a);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        *err = xasprintf("%s: %s", a->path, mdb_strerror(rc));
        lmdb_env_close(&a->le);
        return -1;
    }
    return 0;
}

struct accounts *accounts_open(struct config *cfg, bool writable, char **err)
{
    const char *path = config_str(cfg, PARAM(account_database));
    if (!path || !*path) {
        *err = xstrdup("account_database is not set");
        return NULL;
    }
    struct accounts *a = xcalloc(1, sizeof *a);
    a->cfg = cfg;
    a->path = xstrdup(path);
    a->writable = writable;
    a->last_try = time(NULL);
    if ((writable || file_exists(path)) && open_env(a, err) < 0) {
        free(a->path);
        free(a);
        return NULL;
    }
    return a;
}

void accounts_close(struct accounts *a)
{
    if (!a)
        return;
    lmdb_env_close(&a->le);
    free(a->path);
    free(a);
}

/* Forget an environment whose file was deleted or replaced since it was opened. */
static void drop_if_replaced(struct accounts *a)
{
    if (!a->le.env || !lmdb_env_replaced(&a->le, a->path, true))
        return;
    lmdb_env_close(&a->le);
    a->have_dbis = false;
    a->last_try = 0;
}

/* Start a transaction. Returns 0, MDB_NOTFOUND when the file exists but holds no data yet
 * (read-only and its databases are missing), ACC_MISSING when the file is missing or cannot
 * be opened, or an LMDB error. */
static int begin(struct accounts *a, bool write, MDB_txn **txn)
{
    drop_if_replaced(a);
    if (!a->le.env) {
        char *err = NULL;
        if (!file_exists(a->path) || open_env(a, &err) < 0) {
            free(err);
            return ACC_MISSING;
        }
    }
    if (!a->have_dbis) {
        time_t now = time(NULL);
        if (now == a->last_try)
            return MDB_NOTFOUND;
        a->last_try = now;
        if (open_dbis(a) != 0)
            return MDB_NOTFOUND;
    }
    return lmdb_txn_begin(a->le.env, write ? 0 : MDB_RDONLY, txn); /* adopts a grown map */
}

static int fail(char **err, const struct accounts *a, int rc)
{
    if (err)
        *err = rc == ACC_MISSING ? xasprintf("%s: missing or unreadable (posthorn init creates it)", a->path)
                                 : xasprintf("%s: %s", a->path, mdb_strerror(rc));
    return -1;
}

/* Characters allowed in stored names: no controls, blanks, '/' (they become directory
 * names in the mail store) and no empty or dot-leading components. */
static bool name_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max || s[0] == '.' || strstr(s, ".."))
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == 0x7f || *p == '/' || *p == '\\')
            return false;
    return true;
}

static bool domain_ok(const char *d) { return name_ok(d, 253) && !strchr(d, '@'); }

static bool address_ok(const char *addr)
{
    const char *at = strrchr(addr, '@');
    if (!at || at == addr || strchr(addr, '@') != at)
        return false;
    char *local = xstrndup(addr, (size_t)(at - addr));
    bool ok = name_ok(local, 64) && domain_ok(at + 1) && strlen(addr) <= ACC_KEY_MAX;
    free(local);
    return ok;
}

/* --- domains --- */

int accounts_domain_exists(struct accounts *a, const char *domain)
{
    size_t n;
    char **list = config_list(a->cfg, PARAM(virtual_mailbox_domains), &n);
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(list[i], domain) == 0)
            return 1;
    size_t len = strlen(domain);
    if (len == 0 || len > ACC_KEY_MAX)
        return 0;
    MDB_txn *txn;
    int rc = begin(a, false, &txn);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return -1;
    char *key = lower(domain);
    MDB_val k = {strlen(key), key}, v;
    rc = mdb_get(txn, a->domains, &k, &v);
    mdb_txn_abort(txn);
    free(key);
    return rc == 0 ? 1 : rc == MDB_NOTFOUND ? 0 : -1;
}

static int write_op(struct accounts *a, MDB_dbi *which, const char *key, const char *value,
                    bool must_exist, const char *what, char **err)
{
    if (!a->writable) {
        *err = xstrdup("account database opened read-only");
        return -1;
    }
    MDB_txn *txn;
    int rc = begin(a, true, &txn);
    if (rc != 0)
        return fail(err, a, rc);
    MDB_val k = {strlen(key), (void *)key};
    if (value) {
        MDB_val v = {strlen(value), (void *)value};
        rc = mdb_put(txn, *which, &k, &v, 0);
    } else {
        rc = mdb_del(txn, *which, &k, NULL);
    }
    if (rc == MDB_NOTFOUND && must_exist) {
        mdb_txn_abort(txn);
        *err = xasprintf("no such %s: %s", what, key);
        return -1;
    }
    if (rc != 0 && rc != MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return fail(err, a, rc);
    }
    rc = mdb_txn_commit(txn);
    return rc == 0 ? 0 : fail(err, a, rc);
}

int accounts_domain_add(struct accounts *a, const char *domain, char **err)
{
    char *d = lower(domain);
    if (!domain_ok(d)) {
        *err = xasprintf("invalid domain name \"%s\"", domain);
        free(d);
        return -1;
    }
    if (accounts_domain_exists(a, d) == 1) { /* idempotent; keeps the creation time */
        free(d);
        return 0;
    }
    char *val = xasprintf("v1\t%lld", (long long)time(NULL));
    int r = write_op(a, &a->domains, d, val, false, "domain", err);
    free(val);
    free(d);
    return r;
}

int accounts_domain_del(struct accounts *a, const char *domain, char **err)
{
    char *d = lower(domain);
    int r = write_op(a, &a->domains, d, NULL, true, "domain", err);
    free(d);
    return r;
}

/* Iterate over all keys and values of one database; fn's non-zero return stops. */
static int each(struct accounts *a, MDB_dbi *which,
                int (*fn)(void *ctx, const MDB_val *k, const MDB_val *v), void *ctx)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = begin(a, false, &txn);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return -1;
    if (mdb_cursor_open(txn, *which, &cur) != 0) {
        mdb_txn_abort(txn);
        return -1;
    }
    MDB_val k, v;
    int result = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && result == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        result = fn(ctx, &k, &v);
    if (result == 0 && rc != MDB_NOTFOUND)
        result = -1;
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return result;
}

struct domain_iter {
    int (*fn)(void *ctx, const char *domain);
    void *ctx;
};

static int domain_cb(void *ctx, const MDB_val *k, const MDB_val *v)
{
    struct domain_iter *it = ctx;
    char *d = xstrndup(k->mv_data, k->mv_size);
    int r = it->fn(it->ctx, d);
    free(d);
    return r;
}

int accounts_domain_list(struct accounts *a, int (*fn)(void *ctx, const char *domain), void *ctx)
{
    struct domain_iter it = {fn, ctx};
    return each(a, &a->domains, domain_cb, &it);
}

/* --- users --- */

/* Parse "v1\tQUOTA\tHASH". */
static int parse_user(const MDB_val *k, const MDB_val *v, struct account_user *u)
{
    char *s = xstrndup(v->mv_data, v->mv_size);
    char *q = strncmp(s, "v1\t", 3) == 0 ? s + 3 : NULL;
    char *tab = q ? strchr(q, '\t') : NULL, *end;
    if (!tab || memchr(v->mv_data, 0, v->mv_size)) {
        free(s);
        return -1;
    }
    *tab = 0;
    errno = 0;
    long long quota = strtoll(q, &end, 10);
    if (errno || end == q || *end || quota < -1) {
        free(s);
        return -1;
    }
    u->address = xstrndup(k->mv_data, k->mv_size);
    u->password_hash = xstrdup(tab + 1);
    u->quota = quota;
    free(s);
    return 0;
}

int accounts_user_get(struct accounts *a, const char *address, struct account_user *u, char **err)
{
    memset(u, 0, sizeof *u);
    size_t len = strlen(address);
    if (len == 0 || len > ACC_KEY_MAX)
        return 0;
    MDB_txn *txn;
    int rc = begin(a, false, &txn);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return fail(err, a, rc);
    char *key = lower(address);
    MDB_val k = {strlen(key), key}, v;
    rc = mdb_get(txn, a->users, &k, &v);
    int result = rc == 0 ? 1 : rc == MDB_NOTFOUND ? 0 : fail(err, a, rc);
    if (result == 1 && parse_user(&k, &v, u) < 0) {
        if (err)
            *err = xasprintf("%s: corrupt record for %s", a->path, key);
        result = -1;
    }
    mdb_txn_abort(txn);
    free(key);
    return result;
}

int accounts_user_put(struct accounts *a, const struct account_user *u, char **err)
{
    char *addr = lower(u->address);
    const char *hash = u->password_hash ? u->password_hash : "";
    int r = -1;
    if (!address_ok(addr))
        *err = xasprintf("invalid address \"%s\"", u->address);
    else if (strpbrk(hash, "\t\r\n"))
        *err = xstrdup("password hash contains a control character");
    else if (u->quota < -1)
        *err = xstrdup("quota must be -1 (default), 0 (unlimited) or a byte count");
    else {
        char *val = xasprintf("v1\t%lld\t%s", u->quota, hash);
        r = write_op(a, &a->users, addr, val, false, "user", err);
        explicit_bzero(val, strlen(val));
        free(val);
    }
    free(addr);
    return r;
}

int accounts_user_del(struct accounts *a, const char *address, char **err)
{
    char *addr = lower(address);
    int r = write_op(a, &a->users, addr, NULL, true, "user", err);
    free(addr);
    return r;
}

struct user_iter {
    int (*fn)(void *ctx, const struct account_user *u);
    void *ctx;
};

static int user_cb(void *ctx, const MDB_val *k, const MDB_val *v)
{
    struct user_iter *it = ctx;
    struct account_user u;
    if (parse_user(k, v, &u) < 0)
        return -1;
    int r = it->fn(it->ctx, &u);
    account_user_free(&u);
    return r;
}

int accounts_user_list(struct accounts *a, int (*fn)(void *ctx, const struct account_user *u), void *ctx)
{
    struct user_iter it = {fn, ctx};
    return each(a, &a->users, user_cb, &it);
}

void account_user_free(struct account_user *u)
{
    free(u->address);
    if (u->password_hash) {
        explicit_bzero(u->password_hash, strlen(u->password_hash));
        free(u->password_hash);
    }
    memset(u, 0, sizeof *u);
}

long long accounts_user_quota(struct config *cfg, const struct account_user *u)
{
    if (u->quota >= 0)
        return u->quota;
    return config_int(cfg, PARAM(virtual_mailbox_quota));
}
