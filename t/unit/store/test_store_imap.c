/* test_store_imap.c - lib/store for imapd, per message: keyword tables and the
 * dovecot-keywords file, STORE with CONDSTORE (changed, unchanged, MODIFIED, missing UIDs,
 * batches), the unseen counter, expunge of many messages and the expunge log
 * (mailbox_expunged_since, mailbox_sync's drops), mailbox_changed_since, \Recent claims,
 * STATUS, APPEND (flags, keywords, INTERNALDATE, TRYCREATE, quota), the cache and the
 * watch paths. */
#include "store_test.h"
#include <time.h>

static void test_keyword_names(void **state)
{
    static const char *const good[] = {"$Forwarded", "Junk", "NonJunk", "a", "x-y_z.1"};
    static const char *const bad[] = {"", "a b", "(x", "x)", "{1}", "a%", "a*", "\"q\"", "\\Seen",
                                      "a]", "a,b", "tab\t", "del\x7f", "8bit\xc3\xa9"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(mailbox_keyword_valid(good[i]));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(mailbox_keyword_valid(bad[i]));
    char longname[MS_KEYWORD_LEN_MAX + 2];
    memset(longname, 'k', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    assert_false(mailbox_keyword_valid(longname));
    longname[MS_KEYWORD_LEN_MAX] = 0;
    assert_true(mailbox_keyword_valid(longname));
}

static int kw_cb(void *ctx, unsigned i, const char *name)
{
    buf_printf(ctx, "%u %s;", i, name);
    return 0;
}

static void test_keyword_table(void **state)
{
    struct mail_user *mu = open_box("kw");
    char *err = NULL;
    uint64_t mask = 0;
    const char *two[] = {"$Forwarded", "Junk"};
    assert_int_equal(mailbox_keywords_add(mu, "INBOX", two, 2, &mask, &err), MS_OK);
    assert_int_equal(mask, 3);
    const char *again[] = {"junk", "$forwarded", "Work"}; /* case-insensitive, first spelling kept */
    assert_int_equal(mailbox_keywords_add(mu, "INBOX", again, 3, &mask, &err), MS_OK);
    assert_int_equal(mask, 7);
    struct buf b = BUF_INIT;
    assert_int_equal(mailbox_keywords(mu, "INBOX", kw_cb, &b, &err), 0);
    assert_string_equal(buf_cstr(&b), "0 $Forwarded;1 Junk;2 Work;");
    /* the Dovecot file lists the letters a.. */
    char path[1024];
    snprintf(path, sizeof path, "%s/dovecot-keywords", mail_user_path(mu));
    buf_reset(&b);
    assert_int_equal(read_file(path, 4096, &b), 0);
    assert_string_equal(buf_cstr(&b), "0 $Forwarded\n1 Junk\n2 Work\n");
    const char *look[] = {"WORK", "nope"};
    assert_int_equal(mailbox_keywords_lookup(mu, "INBOX", look, 2, &mask, &err), 0);
    assert_int_equal(mask, 4);
    const char *badkw[] = {"ok", "not ok"};
    assert_int_equal(mailbox_keywords_add(mu, "INBOX", badkw, 2, &mask, &err), MS_INVALID);
    free(err);
    err = NULL;
    assert_int_equal(mailbox_keywords_add(mu, "NoSuchBox", two, 1, &mask, &err), MS_NONEXISTENT);
    free(err);
    err = NULL;
    /* fill the table: 61 more fit, the 62nd does not; a batch that overflows adds nothing */
    char names[70][16];
    const char *p[70];
    for (int i = 0; i < 70; i++) {
        snprintf(names[i], sizeof names[i], "k%d", i);
        p[i] = names[i];
    }
    assert_int_equal(mailbox_keywords_add(mu, "INBOX", p, 62, &mask, &err), MS_LIMIT);
    free(err);
    err = NULL;
    assert_int_equal(mailbox_keywords_add(mu, "INBOX", p, 61, &mask, &err), MS_OK);
    assert_true(mask == ~UINT64_C(7));
    assert_int_equal(mailbox_keywords_add(mu, "INBOX", p + 61, 1, &mask, &err), MS_LIMIT);
    free(err);
    err = NULL;
    assert_int_equal(mailbox_keywords_add(mu, "INBOX", p + 60, 1, &mask, &err), MS_OK); /* known */
    assert_true(mask == UINT64_C(1) << 63);
    buf_reset(&b);
    assert_int_equal(read_file(path, 8192, &b), 0); /* only 0..25 in the file */
    assert_non_null(strstr(buf_cstr(&b), "\n25 k22\n"));
    assert_null(strstr(buf_cstr(&b), "\n26 "));
    buf_free(&b);
    mail_user_close(mu);
}

struct results {
    struct buf b;
    int calls;
};

static void store_cb(void *ctx, const struct mailbox_store_result *r)
{
    struct results *res = ctx;
    buf_printf(&res->b, "%u=%d/%llu/%u/%llx;", r->uid, r->result, (unsigned long long)r->modseq,
               r->flags, (unsigned long long)r->keywords);
    res->calls++;
}

static void test_store_condstore(void **state)
{
    struct mail_user *mu = open_box("store");
    char *err = NULL;
    for (int i = 0; i < 3; i++)
        deliver(mu, "INBOX", "Subject: s\n\nbody\n");
    uint64_t kwmask;
    const char *kw[] = {"Work", "Later"};
    assert_int_equal(mailbox_keywords_add(mu, "INBOX", kw, 2, &kwmask, &err), MS_OK);
    struct mailbox_status st = status_of(mu, "INBOX");
    assert_int_equal(st.unseen, 3);
    uint64_t hms = st.highestmodseq, modseq = 0;
    uint32_t flags = 0;
    uint64_t keywords = 0;
    /* a change: new MODSEQ, the file gets its letters */
    assert_int_equal(mailbox_store(mu, "INBOX", 1, MS_STORE_ADD, MS_FLAG_SEEN, 1, 0, &modseq,
                                   &flags, &keywords, &err), MS_STORE_CHANGED);
    assert_int_equal(modseq, hms + 1);
    assert_int_equal(flags, MS_FLAG_SEEN);
    assert_int_equal(keywords, 1);
    assert_non_null(strstr(file_of(mu, "INBOX", 1), ":2,Sa"));
    assert_int_equal(strncmp(file_of(mu, "INBOX", 1), "cur/", 4), 0);
    assert_int_equal(status_of(mu, "INBOX").unseen, 2);
    /* the same again: a no-op without a new MODSEQ (RFC 7162 3.1.3) */
    assert_int_equal(mailbox_store(mu, "INBOX", 1, MS_STORE_ADD, MS_FLAG_SEEN, 1, 0, &modseq,
                                   NULL, NULL, &err), MS_STORE_UNCHANGED);
    assert_int_equal(modseq, hms + 1);
    assert_int_equal(status_of(mu, "INBOX").highestmodseq, hms + 1);
    /* UNCHANGEDSINCE below the message's MODSEQ: refused, nothing changes */
    assert_int_equal(mailbox_store(mu, "INBOX", 1, MS_STORE_REMOVE, MS_FLAG_SEEN, 0, hms, &modseq,
                                   &flags, NULL, &err), MS_STORE_MODIFIED);
    assert_int_equal(modseq, hms + 1);
    assert_int_equal(flags, MS_FLAG_SEEN);
    /* at or above it: done */
    assert_int_equal(mailbox_store(mu, "INBOX", 1, MS_STORE_REMOVE, MS_FLAG_SEEN, 0, hms + 1, &modseq,
                                   &flags, &keywords, &err), MS_STORE_CHANGED);
    assert_int_equal(modseq, hms + 2);
    assert_int_equal(flags, 0);
    assert_int_equal(keywords, 1);
    assert_non_null(strstr(file_of(mu, "INBOX", 1), ":2,a"));
    assert_int_equal(status_of(mu, "INBOX").unseen, 3);
    /* REPLACE; bits without a keyword in the table are not stored */
    assert_int_equal(mailbox_store(mu, "INBOX", 1, MS_STORE_REPLACE, MS_FLAG_FLAGGED | MS_FLAG_SEEN,
                                   2 | 0x100, 0, &modseq, &flags, &keywords, &err), MS_STORE_CHANGED);
    assert_int_equal(keywords, 2);
    assert_non_null(strstr(file_of(mu, "INBOX", 1), ":2,FSb"));
    assert_int_equal(mailbox_store(mu, "INBOX", 42, MS_STORE_ADD, MS_FLAG_SEEN, 0, 0, &modseq, NULL,
                                   NULL, &err), MS_STORE_NOUID);
    /* a batch: one transaction, one MODSEQ per changed message, results in the order given */
    struct results res = {BUF_INIT, 0};
    uint32_t uids[] = {3, 99, 2, 1};
    uint64_t before = status_of(mu, "INBOX").highestmodseq;
    assert_int_equal(mailbox_store_many(mu, "INBOX", uids, 4, MS_STORE_ADD, MS_FLAG_SEEN, 0, 0,
                                        store_cb, &res, &err), 0);
    char want[256];
    snprintf(want, sizeof want, "3=1/%llu/16/0;99=0/0/0/0;2=1/%llu/16/0;1=2/%llu/18/2;",
             (unsigned long long)before + 1, (unsigned long long)before + 2,
             (unsigned long long)before);
    assert_string_equal(buf_cstr(&res.b), want);
    assert_int_equal(status_of(mu, "INBOX").unseen, 0);
    assert_int_equal(status_of(mu, "INBOX").highestmodseq, before + 2);
    /* mailbox_set_flags replaces the flags and keeps the keywords */
    assert_int_equal(mailbox_set_flags(mu, "INBOX", 1, MS_FLAG_DRAFT, &modseq, &err), 1);
    assert_string_equal(listing(mu, "INBOX"), "1:1:2;2:16:0;3:16:0;");
    buf_free(&res.b);
    mail_user_close(mu);
}

static int range_cb(void *ctx, uint32_t first, uint32_t last)
{
    buf_printf(ctx, "%u-%u;", first, last);
    return 0;
}

static const char *vanished(struct mail_user *mu, const char *mailbox, uint64_t modseq, int *complete)
{
    static struct buf b;
    char *err = NULL;
    buf_free(&b);
    buf_puts(&b, "");
    *complete = mailbox_expunged_since(mu, mailbox, modseq, range_cb, &b, &err);
    return buf_cstr(&b);
}

static int changed_cb(void *ctx, const struct mailbox_msg *m)
{
    buf_printf(ctx, "%u;", m->uid);
    return 0;
}

static void test_expunge_log(void **state)
{
    struct mail_user *mu = open_box("vanish");
    char *err = NULL;
    for (int i = 0; i < 6; i++)
        deliver(mu, "INBOX", "x\n");
    assert_int_equal(mailbox_cache_put(mu, "INBOX", 2, MS_CACHE_ENVELOPE, "env", 3, &err), 1);
    assert_int_equal(mailbox_store(mu, "INBOX", 4, MS_STORE_ADD, MS_FLAG_SEEN, 0, 0, NULL, NULL,
                                   NULL, &err), MS_STORE_CHANGED);
    uint64_t m0 = status_of(mu, "INBOX").highestmodseq, m1 = 0, m2 = 0;
    uint32_t some[] = {2, 4, 99, 5};
    assert_int_equal(mailbox_expunge_many(mu, "INBOX", some, 4, &m1, &err), 3);
    assert_int_equal(m1, m0 + 3);
    struct mailbox_status st = status_of(mu, "INBOX");
    assert_int_equal(st.messages, 3);
    assert_int_equal(st.unseen, 3); /* 4 was the seen one */
    assert_int_equal(count_in(mu, "new") + count_in(mu, "cur"), 3);
    assert_int_equal(count_in(mu, "tmp"), 0);
    int complete;
    assert_string_equal(vanished(mu, "INBOX", m0, &complete), "2-2;4-5;");
    assert_int_equal(complete, 1);
    assert_int_equal(mailbox_expunge(mu, "INBOX", 3, &err), 1);
    assert_int_equal(mailbox_expunge(mu, "INBOX", 3, &err), 0);
    m2 = status_of(mu, "INBOX").highestmodseq;
    assert_string_equal(vanished(mu, "INBOX", 0, &complete), "2-5;");
    assert_string_equal(vanished(mu, "INBOX", m1, &complete), "3-3;");
    assert_string_equal(vanished(mu, "INBOX", m2, &complete), "");
    assert_int_equal(complete, 1);
    /* the cache went with its message */
    void *data;
    size_t len;
    assert_int_equal(mailbox_cache_get(mu, "INBOX", 2, MS_CACHE_ENVELOPE, &data, &len, &err), 0);
    /* an entry mailbox_sync drops (its file deleted by another program) is logged too */
    char path[1400];
    snprintf(path, sizeof path, "%s/%s", mail_user_path(mu), file_of(mu, "INBOX", 6));
    assert_int_equal(unlink(path), 0);
    assert_int_equal(mailbox_sync(mu, "INBOX", &err), 1);
    assert_string_equal(vanished(mu, "INBOX", m2, &complete), "6-6;");
    /* changed since: only what has a higher MODSEQ */
    uint64_t m3 = status_of(mu, "INBOX").highestmodseq;
    assert_int_equal(mailbox_store(mu, "INBOX", 1, MS_STORE_ADD, MS_FLAG_FLAGGED, 0, 0, NULL, NULL,
                                   NULL, &err), MS_STORE_CHANGED);
    struct buf b = BUF_INIT;
    buf_puts(&b, "");
    assert_int_equal(mailbox_changed_since(mu, "INBOX", m3, changed_cb, &b, &err), 0);
    assert_string_equal(buf_cstr(&b), "1;");
    buf_reset(&b);
    assert_int_equal(mailbox_changed_since(mu, "INBOX", 0, changed_cb, &b, &err), 0);
    assert_string_equal(buf_cstr(&b), "1;");
    buf_free(&b);
    /* many in one call */
    uint32_t uids[300];
    for (int i = 0; i < 300; i++)
        uids[i] = deliver(mu, "Junk", "spam\n");
    assert_int_equal(mailbox_expunge_many(mu, "Junk", uids, 300, NULL, &err), 300);
    assert_string_equal(vanished(mu, "Junk", 0, &complete), "1-300;");
    assert_int_equal(count_in(mu, ".Junk/new"), 0);
    assert_int_equal(status_of(mu, "Junk").messages, 0);
    mail_user_close(mu);
}

static void test_recent_and_status(void **state)
{
    struct mail_user *mu = open_box("recent");
    char *err = NULL;
    deliver(mu, "INBOX", "a\n");
    deliver(mu, "INBOX", "bb\n");
    struct mailbox_status st = status_of(mu, "INBOX");
    assert_int_equal(st.recent, 2);
    assert_int_equal(st.first_recent, 1);
    assert_int_equal(st.messages, 2);
    assert_int_equal(st.uidnext, 3);
    assert_int_equal(st.size, 5);
    assert_int_equal(st.vsize, 7);
    assert_int_equal(st.special_use, 0);
    uint32_t first = 0;
    assert_int_equal(mailbox_claim_recent(mu, "INBOX", &first, &err), 1); /* SELECT */
    assert_int_equal(first, 1);
    assert_int_equal(status_of(mu, "INBOX").recent, 0); /* another session's EXAMINE */
    assert_int_equal(mailbox_claim_recent(mu, "INBOX", &first, &err), 1);
    assert_int_equal(first, 3); /* nothing recent for the second SELECT */
    deliver(mu, "INBOX", "c\n");
    assert_int_equal(status_of(mu, "INBOX").recent, 1);
    assert_int_equal(mailbox_claim_recent(mu, "INBOX", &first, &err), 1);
    assert_int_equal(first, 3);
    assert_int_equal(mailbox_claim_recent(mu, "Nope", &first, &err), 0);
    assert_int_equal(mailbox_status(mu, "Nope", &st, &err), 0);
    assert_int_equal(status_of(mu, "Sent").special_use, MS_USE_SENT);
    mail_user_close(mu);
}

static void test_append(void **state)
{
    struct mail_user *mu = open_box("append");
    char *err = NULL;
    uint64_t mask;
    const char *kw[] = {"$Label1"};
    assert_int_equal(mailbox_keywords_add(mu, "Drafts", kw, 1, &mask, &err), MS_OK);
    uint64_t date = 1000000000; /* 2001-09-09 */
    uint32_t uid = append(mu, "Drafts", "Subject: draft\n\ntext\n", MS_FLAG_DRAFT | MS_FLAG_SEEN,
                          mask | 0x80, date);
    assert_int_equal(uid, 1);
    const char *f = file_of(mu, "Drafts", 1);
    assert_int_equal(strncmp(f, ".Drafts/cur/", 12), 0);
    assert_non_null(strstr(f, ",S=21,W=24:2,DSa"));
    char path[1400];
    snprintf(path, sizeof path, "%s/%s", mail_user_path(mu), f);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mtime, (time_t)date); /* where Dovecot reads INTERNALDATE */
    struct mailbox_msg m;
    assert_int_equal(mailbox_lookup(mu, "Drafts", 1, &m, &err), 1);
    assert_int_equal(m.internaldate, date);
    assert_int_equal(m.keywords, 1); /* unknown bits dropped */
    assert_int_equal(m.flags, MS_FLAG_DRAFT | MS_FLAG_SEEN);
    mailbox_msg_free(&m);
    assert_int_equal(status_of(mu, "Drafts").unseen, 0);
    /* without flags: new/, INTERNALDATE now */
    time_t now = time(NULL);
    uid = append(mu, "INBOX", "plain\n", 0, 0, 0);
    assert_int_equal(strncmp(file_of(mu, "INBOX", uid), "new/", 4), 0);
    assert_int_equal(mailbox_lookup(mu, "INBOX", uid, &m, &err), 1);
    assert_true(m.internaldate >= (uint64_t)now && m.internaldate <= (uint64_t)now + 2);
    mailbox_msg_free(&m);
    /* a mailbox that does not exist is not created: TRYCREATE */
    uint32_t uidvalidity;
    assert_int_equal(mailbox_append(mu, "Nope", 0, fill_text, "x\n", 0, 0, 0, &uid, &uidvalidity,
                                    &err), MS_NONEXISTENT);
    free(err);
    err = NULL;
    snprintf(path, sizeof path, "%s/.Nope", mail_user_path(mu));
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(count_in(mu, "tmp"), 0);
    assert_int_equal(mailbox_append(mu, "a/b", 0, fill_text, "x\n", 0, 0, 0, &uid, &uidvalidity,
                                    &err), MS_INVALID);
    free(err);
    err = NULL;
    /* quota as for delivery; the UIDVALIDITY for APPENDUID */
    assert_int_equal(mailbox_append(mu, "INBOX", 10, fill_text, "x\n", 0, 0, 0, &uid, &uidvalidity,
                                    &err), MS_OVERQUOTA);
    free(err);
    err = NULL;
    assert_int_equal(mailbox_append(mu, "INBOX", 0, fill_text, "y\n", 0, 0, 0, &uid, &uidvalidity,
                                    &err), MS_OK);
    assert_int_equal(uidvalidity, status_of(mu, "INBOX").uidvalidity);
    mail_user_close(mu);
}

static void test_cache_and_watch(void **state)
{
    struct mail_user *mu = open_box("cache");
    char *err = NULL;
    deliver(mu, "INBOX", "m\n");
    void *data = NULL;
    size_t len = 0;
    assert_int_equal(mailbox_cache_get(mu, "INBOX", 1, MS_CACHE_BODYSTRUCTURE, &data, &len, &err), 0);
    assert_int_equal(mailbox_cache_put(mu, "INBOX", 1, MS_CACHE_BODYSTRUCTURE, "(\"text\")", 8, &err), 1);
    assert_int_equal(mailbox_cache_put(mu, "INBOX", 1, MS_CACHE_ENVELOPE, "(NIL)", 5, &err), 1);
    assert_int_equal(mailbox_cache_put(mu, "INBOX", 1, MS_CACHE_ENVELOPE, "(\"d\")", 5, &err), 1);
    assert_int_equal(mailbox_cache_get(mu, "INBOX", 1, MS_CACHE_ENVELOPE, &data, &len, &err), 1);
    assert_int_equal(len, 5);
    assert_string_equal(data, "(\"d\")");
    free(data);
    assert_int_equal(mailbox_cache_get(mu, "INBOX", 1, MS_CACHE_BODYSTRUCTURE, &data, &len, &err), 1);
    assert_string_equal(data, "(\"text\")");
    free(data);
    assert_int_equal(mailbox_cache_put(mu, "INBOX", 7, MS_CACHE_ENVELOPE, "x", 1, &err), 0);
    assert_int_equal(mailbox_cache_put(mu, "INBOX", 1, 256, "x", 1, &err), -1);
    free(err);
    err = NULL;
    /* Several in one transaction; a UID that does not exist is skipped. */
    deliver(mu, "INBOX", "n\n");
    const struct mailbox_cache_entry many[] = {{1, MS_CACHE_BODY, "b1", 2}, {9, MS_CACHE_BODY, "b9", 2},
                                               {2, MS_CACHE_BODY, "b2", 2}};
    assert_int_equal(mailbox_cache_put_many(mu, "INBOX", many, 3, &err), 1);
    assert_int_equal(mailbox_cache_get(mu, "INBOX", 2, MS_CACHE_BODY, &data, &len, &err), 1);
    assert_string_equal(data, "b2");
    free(data);
    assert_int_equal(mailbox_cache_get(mu, "INBOX", 1, MS_CACHE_BODY, &data, &len, &err), 1);
    assert_string_equal(data, "b1");
    free(data);
    assert_int_equal(mailbox_cache_get(mu, "INBOX", 9, MS_CACHE_BODY, &data, &len, &err), 0);
    assert_int_equal(mailbox_cache_put_many(mu, "INBOX", many + 1, 1, &err), 0);
    char *paths[3];
    assert_int_equal(mailbox_watch_paths(mu, "Sent", paths, &err), 3);
    char want[1024];
    snprintf(want, sizeof want, "%s/" INDEX, mail_user_path(mu));
    assert_string_equal(paths[0], want);
    snprintf(want, sizeof want, "%s/.Sent/new", mail_user_path(mu));
    assert_string_equal(paths[1], want);
    snprintf(want, sizeof want, "%s/.Sent/cur", mail_user_path(mu));
    assert_string_equal(paths[2], want);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(access(paths[i], F_OK), 0);
        free(paths[i]);
    }
    mail_user_close(mu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyword_names),
        cmocka_unit_test(test_keyword_table),
        cmocka_unit_test(test_store_condstore),
        cmocka_unit_test(test_expunge_log),
        cmocka_unit_test(test_recent_and_status),
        cmocka_unit_test(test_append),
        cmocka_unit_test(test_cache_and_watch),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
