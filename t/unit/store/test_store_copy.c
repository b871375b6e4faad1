/* test_store_copy.c - lib/store COPY and MOVE (new UIDs, flags, keywords mapped by name,
 * INTERNALDATE, hard links, counters, expunge log, refusals) and the crash windows of the
 * journaled file operations, each staged by doing a crashed writer's steps by hand:
 * a MOVE, a COPY and a RENAME killed between their file operations and their commit (the
 * next write transaction undoes them), a MOVE and a DELETE whose commit survived a system
 * crash but whose renames did not (the next write transaction completes them), and a
 * MOVE whose journal is lost too (mailbox_sync of both mailboxes leaves one copy). Also an
 * index of version 1 (read, upgraded when written) and a folder written by Dovecot
 * (dovecot-keywords and keyword letters taken over by mailbox_sync). */
#include "store_test.h"
#include "mailstore_int.h" /* the journal and raw records, to stage crashes and old indexes */
#include <fcntl.h>
#include <time.h>
#include <utime.h>

static char *full(struct mail_user *mu, const char *rel)
{
    char *p = malloc(1200);
    snprintf(p, 1200, "%s/%s", mail_user_path(mu), rel);
    return p;
}

static struct stat stat_of(struct mail_user *mu, const char *rel)
{
    struct stat st;
    char *p = full(mu, rel);
    if (stat(p, &st) < 0)
        fail_msg("stat %s: %s", p, strerror(errno));
    free(p);
    return st;
}

static uint64_t add_keywords(struct mail_user *mu, const char *mailbox, const char *a, const char *b)
{
    const char *names[] = {a, b};
    uint64_t mask;
    char *err = NULL;
    if (mailbox_keywords_add(mu, mailbox, names, b ? 2 : 1, &mask, &err) != MS_OK)
        fail_msg("keywords: %s", err);
    return mask;
}

static off_t journal_size(struct mail_user *mu)
{
    return stat_of(mu, INDEX "-journal").st_size;
}

static void test_copy(void **state)
{
    struct mail_user *mu = open_box("copy");
    char *err = NULL;
    for (int i = 0; i < 3; i++)
        deliver(mu, "INBOX", "Subject: c\n\ncopy me\n");
    add_keywords(mu, "INBOX", "Work", "Home");
    add_keywords(mu, "Sent", "Home", NULL); /* Home is keyword 0 in Sent, 1 in INBOX */
    assert_int_equal(mailbox_store(mu, "INBOX", 1, MS_STORE_ADD, MS_FLAG_SEEN, 2, 0, NULL, NULL,
                                   NULL, &err), MS_STORE_CHANGED);
    assert_int_equal(mailbox_store(mu, "INBOX", 3, MS_STORE_ADD, MS_FLAG_FLAGGED, 1, 0, NULL, NULL,
                                   NULL, &err), MS_STORE_CHANGED);
    const char *before = strdup(listing(mu, "INBOX"));
    uint32_t uids[] = {3, 99, 1}, dst[3] = {7, 7, 7}, validity = 0;
    assert_int_equal(mailbox_copy(mu, "INBOX", uids, 3, "Sent", 0, dst, &validity, &err), MS_OK);
    assert_int_equal(dst[0], 1);
    assert_int_equal(dst[1], 0);
    assert_int_equal(dst[2], 2);
    assert_int_equal(validity, status_of(mu, "Sent").uidvalidity);
    assert_string_equal(listing(mu, "Sent"), "1:2:2;2:16:1;");
    assert_string_equal(listing(mu, "INBOX"), before);
    assert_non_null(strstr(file_of(mu, "Sent", 1), ":2,Fb"));
    assert_non_null(strstr(file_of(mu, "Sent", 2), ":2,Sa"));
    char src_file[1024];
    snprintf(src_file, sizeof src_file, "%s", file_of(mu, "INBOX", 3));
    struct stat a = stat_of(mu, src_file), b = stat_of(mu, file_of(mu, "Sent", 1));
    assert_int_equal(a.st_ino, b.st_ino); /* a hard link */
    assert_int_equal(a.st_nlink, 2);
    struct mailbox_msg m1, m2;
    assert_int_equal(mailbox_lookup(mu, "INBOX", 3, &m1, &err), 1);
    assert_int_equal(mailbox_lookup(mu, "Sent", 1, &m2, &err), 1);
    assert_int_equal(m1.internaldate, m2.internaldate);
    assert_string_not_equal(m1.name, m2.name); /* a new base name */
    mailbox_msg_free(&m1);
    mailbox_msg_free(&m2);
    struct buf kw = BUF_INIT;
    char *path = full(mu, ".Sent/dovecot-keywords");
    assert_int_equal(read_file(path, 4096, &kw), 0);
    assert_string_equal(buf_cstr(&kw), "0 Home\n1 Work\n");
    free(path);
    buf_free(&kw);
    struct mailbox_status st = status_of(mu, "Sent");
    assert_int_equal(st.messages, 2);
    assert_int_equal(st.unseen, 1);
    assert_int_equal(st.recent, 2);
    assert_int_equal(journal_size(mu), 0);
    /* into the same mailbox */
    assert_int_equal(mailbox_copy(mu, "INBOX", uids + 2, 1, "INBOX", 0, dst, &validity, &err), MS_OK);
    assert_int_equal(dst[0], 4);
    assert_int_equal(count_in(mu, "cur") + count_in(mu, "new"), 4);
    /* refusals change nothing */
    assert_int_equal(mailbox_copy(mu, "INBOX", uids, 1, "Nope", 0, dst, &validity, &err), MS_NONEXISTENT);
    free(err);
    err = NULL;
    assert_int_equal(mailbox_copy(mu, "Nope", uids, 1, "Sent", 0, dst, &validity, &err), MS_NONEXISTENT);
    free(err);
    err = NULL;
    assert_int_equal(mailbox_copy(mu, "INBOX", uids, 1, "Sent", 10, dst, &validity, &err), MS_OVERQUOTA);
    free(err);
    err = NULL;
    assert_int_equal(status_of(mu, "Sent").messages, 2);
    free((char *)before);
    mail_user_close(mu);
}

static void test_copy_keyword_limit(void **state)
{
    struct mail_user *mu = open_box("copylimit");
    char *err = NULL;
    deliver(mu, "INBOX", "x\n");
    uint64_t mask = add_keywords(mu, "INBOX", "Only", NULL);
    assert_int_equal(mailbox_store(mu, "INBOX", 1, MS_STORE_ADD, 0, mask, 0, NULL, NULL, NULL, &err),
                     MS_STORE_CHANGED);
    char names[64][8];
    const char *p[64];
    for (int i = 0; i < 64; i++) {
        snprintf(names[i], sizeof names[i], "f%d", i);
        p[i] = names[i];
    }
    assert_int_equal(mailbox_keywords_add(mu, "Archive", p, 64, &mask, &err), MS_OK);
    uint32_t uid = 1, dst, validity;
    assert_int_equal(mailbox_copy(mu, "INBOX", &uid, 1, "Archive", 0, &dst, &validity, &err), MS_LIMIT);
    free(err);
    assert_int_equal(count_in(mu, ".Archive/cur"), 0);
    assert_int_equal(status_of(mu, "Archive").messages, 0);
    mail_user_close(mu);
}

static int range_cb(void *ctx, uint32_t first, uint32_t last)
{
    buf_printf(ctx, "%u-%u;", first, last);
    return 0;
}

static void test_move(void **state)
{
    struct mail_user *mu = open_box("move");
    char *err = NULL;
    for (int i = 0; i < 3; i++)
        deliver(mu, "INBOX", "move\n");
    assert_int_equal(mailbox_store(mu, "INBOX", 2, MS_STORE_ADD, MS_FLAG_SEEN, 0, 0, NULL, NULL, NULL,
                                   &err), MS_STORE_CHANGED);
    uint64_t m0 = status_of(mu, "INBOX").highestmodseq;
    long long usage = mail_user_usage(mu);
    uint32_t uids[] = {2, 3}, dst[2], validity;
    assert_int_equal(mailbox_move(mu, "INBOX", uids, 2, "Archive", dst, &validity, &err), MS_OK);
    assert_int_equal(dst[0], 1);
    assert_int_equal(dst[1], 2);
    assert_string_equal(listing(mu, "INBOX"), "1:0:0;");
    assert_string_equal(listing(mu, "Archive"), "1:16:0;2:0:0;");
    struct buf b = BUF_INIT;
    buf_puts(&b, "");
    assert_int_equal(mailbox_expunged_since(mu, "INBOX", m0, range_cb, &b, &err), 1);
    assert_string_equal(buf_cstr(&b), "2-3;");
    buf_free(&b);
    assert_int_equal(count_in(mu, "new") + count_in(mu, "cur"), 1);
    assert_int_equal(count_in(mu, ".Archive/cur"), 2);
    assert_int_equal(stat_of(mu, file_of(mu, "Archive", 1)).st_nlink, 1);
    assert_int_equal(status_of(mu, "INBOX").unseen, 1);
    assert_int_equal(status_of(mu, "Archive").unseen, 1);
    assert_int_equal(mail_user_usage(mu), usage);
    assert_int_equal(mailbox_move(mu, "INBOX", uids, 1, "Nope", dst, &validity, &err), MS_NONEXISTENT);
    free(err);
    assert_int_equal(status_of(mu, "INBOX").messages, 1);
    assert_int_equal(journal_size(mu), 0);
    mail_user_close(mu);
}

/* Journal ops as the writer of the next write transaction would (it never commits), or,
 * with committed, as the writer of the last committed one. */
static void stage_journal(struct mail_user *mu, struct ms_fileops *ops, bool committed)
{
    MDB_txn *txn;
    assert_int_equal(ms_begin(mu, !committed, &txn), 0);
    assert_int_equal(ms_journal_write(mu, txn, ops), 0);
    mdb_txn_abort(txn);
    ms_fileops_free(ops);
}

static void test_move_killed_before_commit(void **state)
{
    struct mail_user *mu = open_box("crash1");
    char *err = NULL;
    deliver(mu, "INBOX", "moving\n");
    char *src = full(mu, file_of(mu, "INBOX", 1));
    char *dst = full(mu, ".Archive/cur/1700000000.M1P1Q1.host,S=7,W=8:2,");
    struct ms_fileops ops = {0};
    ms_fileops_add(&ops, MS_OP_RENAME, strdup(src), strdup(dst));
    stage_journal(mu, &ops, false);
    assert_int_equal(rename(src, dst), 0); /* ...and the writer is killed here */
    assert_int_equal(mailbox_sync(mu, "Archive", &err), 0); /* the rename is turned back */
    assert_int_equal(access(src, F_OK), 0);
    assert_int_equal(access(dst, F_OK), -1);
    assert_int_equal(mailbox_sync(mu, "INBOX", &err), 0);
    assert_string_equal(listing(mu, "INBOX"), "1:0:0;");
    assert_string_equal(listing(mu, "Archive"), "");
    assert_int_equal(journal_size(mu), 0);
    free(src);
    free(dst);
    mail_user_close(mu);
}

static void test_move_journal_lost(void **state)
{
    struct mail_user *mu = open_box("crash2");
    char *err = NULL;
    deliver(mu, "INBOX", "moving\n");
    char *src = full(mu, file_of(mu, "INBOX", 1));
    char *dst = full(mu, ".Archive/cur/1700000000.M1P1Q1.host,S=7,W=8:2,");
    assert_int_equal(rename(src, dst), 0); /* no journal: only the sync of both mailboxes */
    assert_int_equal(mailbox_sync(mu, "Archive", &err), 1);
    assert_int_equal(mailbox_sync(mu, "INBOX", &err), 1);
    assert_string_equal(listing(mu, "INBOX"), "");
    assert_string_equal(listing(mu, "Archive"), "1:0:0;");
    assert_int_equal(status_of(mu, "INBOX").messages + status_of(mu, "Archive").messages, 1);
    free(src);
    free(dst);
    mail_user_close(mu);
}

static void test_copy_killed_before_commit(void **state)
{
    struct mail_user *mu = open_box("crash3");
    char *err = NULL;
    deliver(mu, "INBOX", "copying\n");
    char *src = full(mu, file_of(mu, "INBOX", 1));
    char *dst = full(mu, ".Sent/cur/1700000000.M1P1Q1.host,S=8,W=9:2,");
    struct ms_fileops ops = {0};
    ms_fileops_add(&ops, MS_OP_LINK, strdup(src), strdup(dst));
    stage_journal(mu, &ops, false);
    assert_int_equal(link(src, dst), 0);
    assert_int_equal(mailbox_sync(mu, "Sent", &err), 0); /* the link is removed: no copy */
    assert_int_equal(access(dst, F_OK), -1);
    assert_int_equal(stat_of(mu, file_of(mu, "INBOX", 1)).st_nlink, 1);
    assert_string_equal(listing(mu, "Sent"), "");
    free(src);
    free(dst);
    mail_user_close(mu);
}

static void test_move_commit_survived_renames_lost(void **state)
{
    struct mail_user *mu = open_box("crash4");
    char *err = NULL;
    deliver(mu, "INBOX", "moved\n");
    char *src = full(mu, file_of(mu, "INBOX", 1));
    uint32_t uid = 1, dst_uid, validity;
    assert_int_equal(mailbox_move(mu, "INBOX", &uid, 1, "Archive", &dst_uid, &validity, &err), MS_OK);
    char *dst = full(mu, file_of(mu, "Archive", dst_uid));
    /* a system crash: the commit is on disk, the rename (and the journal's clearing) not */
    assert_int_equal(rename(dst, src), 0);
    struct ms_fileops ops = {0};
    ms_fileops_add(&ops, MS_OP_RENAME, strdup(src), strdup(dst));
    stage_journal(mu, &ops, true);
    assert_int_equal(mailbox_sync(mu, "INBOX", &err), 0); /* the rename is done again */
    assert_int_equal(access(src, F_OK), -1);
    assert_int_equal(access(dst, F_OK), 0);
    assert_int_equal(mailbox_sync(mu, "Archive", &err), 0);
    assert_string_equal(listing(mu, "INBOX"), "");
    assert_string_equal(listing(mu, "Archive"), "1:0:0;");
    free(src);
    free(dst);
    mail_user_close(mu);
}

static void test_rename_killed_before_commit(void **state)
{
    struct mail_user *mu = open_box("crash5");
    char *err = NULL;
    assert_int_equal(mailbox_create(mu, "Proj", 0, &err), MS_OK);
    append(mu, "Proj", "p\n", 0, 0, 0);
    char *from = full(mu, ".Proj"), *to = full(mu, ".Done");
    struct ms_fileops ops = {0};
    ms_fileops_add(&ops, MS_OP_RENAME, strdup(from), strdup(to));
    stage_journal(mu, &ops, false);
    assert_int_equal(rename(from, to), 0);
    assert_int_equal(mailbox_sync(mu, "INBOX", &err), 0);
    assert_int_equal(access(from, F_OK), 0);
    assert_int_equal(access(to, F_OK), -1);
    assert_int_equal(mailbox_sync(mu, "Proj", &err), 0);
    assert_string_equal(listing(mu, "Proj"), "1:0:0;");
    free(from);
    free(to);
    mail_user_close(mu);
}

static void test_delete_commit_survived_rename_lost(void **state)
{
    struct mail_user *mu = open_box("crash6");
    char *err = NULL;
    assert_int_equal(mailbox_create(mu, "Gone", 0, &err), MS_OK);
    assert_int_equal(mailbox_delete(mu, "Gone", &err), MS_OK);
    char *dir = full(mu, ".Gone"), *parked = full(mu, "tmp/.deleted.1.1");
    assert_int_equal(ms_make_maildir(dir, true), 0); /* the directory as before the crash */
    char *msg = full(mu, ".Gone/cur/1700000000.M1P1Q1.host:2,S");
    assert_int_equal(write_file_atomic(msg, "old\n", 4, 0600), 0);
    struct ms_fileops ops = {0};
    ms_fileops_add(&ops, MS_OP_DELETE, strdup(dir), strdup(parked));
    stage_journal(mu, &ops, true);
    assert_int_equal(mailbox_sync(mu, "INBOX", &err), 0);
    assert_int_equal(access(dir, F_OK), -1);
    assert_int_equal(access(parked, F_OK), -1);
    assert_int_equal(count_in(mu, "tmp"), 0);
    free(dir);
    free(parked);
    free(msg);
    mail_user_close(mu);
}

/* --- an index of version 1 --- */

static void put_le(struct buf *b, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        buf_putc(b, (char)(v >> (8 * i)));
}

static int to_v1(void *ctx, const struct mailbox_msg *m)
{
    struct mail_user *mu = ((void **)ctx)[0];
    MDB_txn *txn = ((void **)ctx)[1];
    struct buf key = BUF_INIT, v = BUF_INIT;
    ms_msg_key(&key, "INBOX", m->uid);
    buf_putc(&v, 1);
    put_le(&v, m->flags, 4);
    put_le(&v, m->modseq, 8);
    put_le(&v, m->size, 8);
    put_le(&v, m->vsize, 8);
    buf_puts(&v, m->name);
    MDB_val k = {key.len, key.data}, d = {v.len, v.data};
    assert_int_equal(mdb_put(txn, mu->e->messages, &k, &d, 0), 0);
    buf_free(&key);
    buf_free(&v);
    return 0;
}

/* Rewrite INBOX's records as an index of version 1 has them. */
static void make_v1(struct mail_user *mu)
{
    struct mailbox_info fi;
    char *err = NULL;
    assert_int_equal(mailbox_info(mu, "INBOX", &fi, &err), 1);
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(mu->e->le.env, NULL, 0, &txn), 0);
    void *ctx[2] = {mu, txn};
    assert_int_equal(mailbox_iterate(mu, "INBOX", 1, to_v1, ctx, &err), 0);
    struct buf v = BUF_INIT;
    buf_putc(&v, 1);
    put_le(&v, fi.uidvalidity, 4);
    put_le(&v, fi.uidnext, 4);
    put_le(&v, fi.highestmodseq, 8);
    put_le(&v, fi.messages, 8);
    put_le(&v, fi.size, 8);
    put_le(&v, fi.vsize, 8);
    MDB_val k = {5, "INBOX"}, d = {v.len, v.data};
    assert_int_equal(mdb_put(txn, mu->e->mailboxes, &k, &d, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    buf_free(&v);
}

static int record_version(struct mail_user *mu)
{
    MDB_txn *txn;
    MDB_val k = {5, "INBOX"}, d;
    assert_int_equal(mdb_txn_begin(mu->e->le.env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_get(txn, mu->e->mailboxes, &k, &d), 0);
    int v = ((unsigned char *)d.mv_data)[0];
    mdb_txn_abort(txn);
    return v;
}

static void test_v1_index(void **state)
{
    struct mail_user *mu = open_box("old");
    char *err = NULL;
    for (int i = 0; i < 3; i++)
        deliver(mu, "INBOX", "old\n");
    assert_int_equal(mailbox_set_flags(mu, "INBOX", 2, MS_FLAG_SEEN, NULL, &err), 1);
    make_v1(mu);
    assert_int_equal(record_version(mu), 1);
    struct mailbox_status st = status_of(mu, "INBOX");
    uint64_t hms = st.highestmodseq;
    assert_int_equal(st.messages, 3);
    assert_int_equal(st.unseen, 2); /* counted */
    assert_int_equal(st.recent, 3);
    struct mailbox_msg m;
    assert_int_equal(mailbox_lookup(mu, "INBOX", 1, &m, &err), 1);
    assert_int_equal(m.keywords, 0);
    assert_int_equal(m.internaldate, strtoull(m.name, NULL, 10)); /* the name's SECONDS */
    assert_true(m.internaldate > 0);
    mailbox_msg_free(&m);
    struct buf b = BUF_INIT;
    buf_puts(&b, "");
    /* the log starts at the upgrade: older MODSEQs get "incomplete" */
    assert_int_equal(mailbox_expunged_since(mu, "INBOX", hms - 1, range_cb, &b, &err), 0);
    assert_int_equal(mailbox_expunged_since(mu, "INBOX", hms, range_cb, &b, &err), 1);
    /* the first write upgrades the record */
    assert_int_equal(mailbox_store(mu, "INBOX", 1, MS_STORE_ADD, MS_FLAG_SEEN, 0, 0, NULL, NULL, NULL,
                                   &err), MS_STORE_CHANGED);
    assert_int_equal(record_version(mu), 2);
    assert_int_equal(status_of(mu, "INBOX").unseen, 1);
    assert_int_equal(mailbox_expunge(mu, "INBOX", 3, &err), 1);
    assert_int_equal(mailbox_expunged_since(mu, "INBOX", hms, range_cb, &b, &err), 1);
    assert_string_equal(buf_cstr(&b), "3-3;");
    assert_int_equal(mailbox_expunged_since(mu, "INBOX", hms - 1, range_cb, &b, &err), 0);
    assert_int_equal(deliver(mu, "INBOX", "new\n"), 4);
    assert_string_equal(listing(mu, "INBOX"), "1:16:0;2:16:0;4:0:0;");
    /* a no-op sync upgrades an old record too */
    make_v1(mu);
    assert_int_equal(mailbox_sync(mu, "INBOX", &err), 0);
    assert_int_equal(record_version(mu), 2);
    assert_int_equal(status_of(mu, "INBOX").unseen, 1);
    buf_free(&b);
    mail_user_close(mu);
}

static int kw_cb(void *ctx, unsigned i, const char *name)
{
    buf_printf(ctx, "%u %s;", i, name);
    return 0;
}

static void write_at(struct mail_user *mu, const char *rel, const char *text, time_t mtime)
{
    char *p = full(mu, rel);
    assert_int_equal(write_file_atomic(p, text, strlen(text), 0600), 0);
    struct utimbuf ut = {mtime, mtime};
    assert_int_equal(utime(p, &ut), 0);
    free(p);
}

static void test_dovecot_folder(void **state)
{
    struct mail_user *mu = open_box("dove");
    char *err = NULL;
    char *dir = full(mu, ".Imported");
    assert_int_equal(ms_make_maildir(dir, true), 0);
    write_at(mu, ".Imported/dovecot-keywords", "0 $Label1\n1 Important\n", 0);
    write_at(mu, ".Imported/cur/1600000000.M1P1.host,S=5:2,Sab", "dove\n", 1600000000);
    write_at(mu, ".Imported/new/1600000001.M2P2.host", "new\n", 1600000001);
    /* a folder is not made by a sync (a deleted one must not come back): the record first */
    assert_int_equal(mailbox_sync(mu, "Imported", &err), -1);
    free(err);
    err = NULL;
    assert_int_equal(mailbox_create(mu, "Imported", 0, &err), MS_OK);
    assert_int_equal(mailbox_sync(mu, "Imported", &err), 2);
    assert_string_equal(listing(mu, "Imported"), "1:16:3;2:0:0;");
    struct buf b = BUF_INIT;
    assert_int_equal(mailbox_keywords(mu, "Imported", kw_cb, &b, &err), 0);
    assert_string_equal(buf_cstr(&b), "0 $Label1;1 Important;");
    struct mailbox_msg m;
    assert_int_equal(mailbox_lookup(mu, "Imported", 1, &m, &err), 1);
    assert_int_equal(m.internaldate, 1600000000); /* the mtime, as Dovecot keeps it */
    mailbox_msg_free(&m);
    uint64_t hms = status_of(mu, "Imported").highestmodseq;
    /* letters changed by another program are taken over, with a new MODSEQ */
    char *from = full(mu, ".Imported/cur/1600000000.M1P1.host,S=5:2,Sab");
    char *to = full(mu, ".Imported/cur/1600000000.M1P1.host,S=5:2,Sbc");
    assert_int_equal(rename(from, to), 0);
    write_at(mu, ".Imported/dovecot-keywords", "0 $Label1\n1 Important\n2 Extra\n", 0);
    assert_int_equal(mailbox_sync(mu, "Imported", &err), 1);
    assert_string_equal(listing(mu, "Imported"), "1:16:6;2:0:0;");
    assert_int_equal(status_of(mu, "Imported").highestmodseq, hms + 1);
    buf_reset(&b);
    assert_int_equal(mailbox_keywords(mu, "Imported", kw_cb, &b, &err), 0);
    assert_string_equal(buf_cstr(&b), "0 $Label1;1 Important;2 Extra;");
    /* a lost dovecot-keywords is written again from the index */
    char *kwfile = full(mu, ".Imported/dovecot-keywords");
    assert_int_equal(unlink(kwfile), 0);
    assert_int_equal(mailbox_sync(mu, "Imported", &err), 0);
    buf_reset(&b);
    assert_int_equal(read_file(kwfile, 4096, &b), 0);
    assert_string_equal(buf_cstr(&b), "0 $Label1\n1 Important\n2 Extra\n");
    buf_free(&b);
    free(kwfile);
    free(from);
    free(to);
    free(dir);
    mail_user_close(mu);
}

static size_t last_txnid(struct mail_user *mu)
{
    MDB_envinfo info;
    assert_int_equal(mdb_env_info(mu->e->le.env, &info), 0);
    return info.me_last_txnid;
}

/* STORE, EXPUNGE, COPY and MOVE of many messages: one commit each. */
static void test_batches_are_one_transaction(void **state)
{
    struct mail_user *mu = open_box("batch");
    char *err = NULL;
    enum { N = 200 };
    static uint32_t uids[N], dst[N];
    for (int i = 0; i < N; i++)
        uids[i] = deliver(mu, "INBOX", "batch\n");
    size_t t = last_txnid(mu);
    assert_int_equal(mailbox_store_many(mu, "INBOX", uids, N, MS_STORE_ADD, MS_FLAG_SEEN, 0, 0, NULL,
                                        NULL, &err), 0);
    assert_int_equal(last_txnid(mu), t + 1);
    uint32_t validity;
    assert_int_equal(mailbox_copy(mu, "INBOX", uids, N, "Archive", 0, dst, &validity, &err), MS_OK);
    assert_int_equal(last_txnid(mu), t + 2);
    assert_int_equal(mailbox_move(mu, "INBOX", uids, N, "Trash", dst, &validity, &err), MS_OK);
    assert_int_equal(last_txnid(mu), t + 3);
    assert_int_equal(mailbox_expunge_many(mu, "Trash", dst, N, NULL, &err), N);
    assert_int_equal(last_txnid(mu), t + 4);
    assert_int_equal(status_of(mu, "INBOX").messages, 0);
    assert_int_equal(status_of(mu, "Archive").messages, N);
    assert_int_equal(status_of(mu, "Archive").unseen, 0);
    assert_int_equal(status_of(mu, "Trash").messages, 0);
    assert_int_equal(count_in(mu, ".Trash/cur") + count_in(mu, ".Trash/tmp"), 0);
    mail_user_close(mu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copy),
        cmocka_unit_test(test_copy_keyword_limit),
        cmocka_unit_test(test_move),
        cmocka_unit_test(test_move_killed_before_commit),
        cmocka_unit_test(test_move_journal_lost),
        cmocka_unit_test(test_copy_killed_before_commit),
        cmocka_unit_test(test_move_commit_survived_renames_lost),
        cmocka_unit_test(test_rename_killed_before_commit),
        cmocka_unit_test(test_delete_commit_survived_rename_lost),
        cmocka_unit_test(test_v1_index),
        cmocka_unit_test(test_dovecot_folder),
        cmocka_unit_test(test_batches_are_one_transaction),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
