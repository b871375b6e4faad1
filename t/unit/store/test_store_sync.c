/* test_store_sync.c - mailbox_sync against writers that run at the same time: what it reads
 * before its write transaction (the new/ and cur/ listing, tmp/ ages) must not be taken for
 * changes by another program when a store writer changed the mailbox in between.
 *
 * imapd runs mailbox_sync at every SELECT, in whichever imapd-mailbox process serves the
 * session, while sessions in other processes APPEND, STORE, COPY, MOVE and EXPUNGE. Under
 * imaptest's stress mode this dropped an APPENDed message as expunged (indexed again under
 * a new UID by the next sync), dropped messages a STORE was renaming or put their old
 * letters back, and failed APPENDs with ENOENT (a sync deleted the file from tmp/). The
 * interleavings are staged by hand in one process, deterministically:
 *  - between the directory scan and the transaction: a journal of a committed transaction
 *    whose renames are not on disk yet, which the sync's own transaction completes (as
 *    every write transaction does) after the scan: the file appears under the writer lock,
 *    as the file of an APPEND or MOVE committed by another process meanwhile would;
 *  - during an APPEND: the sync runs from the APPEND's fill(), while the file is in tmp/
 *    with the INTERNALDATE as its mtime (as another process's SELECT can). */
#include "store_test.h"
#include "mailstore_int.h" /* the journal, to stage a change after the sync's scan */
#include "mem.h"
#include <sys/stat.h>
#include <time.h>

/* Record in INDEX-journal a rename made by a transaction that has committed: the journal
 * carries the ID of the last commit, so the next write transaction completes it. */
static void journal_committed_rename(struct mail_user *mu, const char *from, const char *to)
{
    MDB_txn *txn;
    assert_int_equal(ms_begin(mu, false, &txn), 0); /* a snapshot: the last committed ID */
    struct ms_fileops ops = {0};
    ms_fileops_add(&ops, MS_OP_RENAME, xstrdup(from), xstrdup(to));
    assert_int_equal(ms_journal_write(mu, txn, &ops), 0);
    mdb_txn_abort(txn);
    ms_fileops_free(&ops);
}

static int count_range(void *ctx, uint32_t first, uint32_t last)
{
    *(uint32_t *)ctx += last - first + 1;
    return 0;
}

static uint32_t expunged(struct mail_user *mu, const char *mailbox)
{
    uint32_t n = 0;
    char *err = NULL;
    if (mailbox_expunged_since(mu, mailbox, 0, count_range, &n, &err) < 0)
        fail_msg("expunged_since: %s", err);
    return n;
}

/* A message whose file arrives after the sync's scan, under an entry committed before the
 * sync's transaction (a MOVE into INBOX whose rename the sync's journal recovery does): the
 * sync keeps the message under its UID. It used to drop the entry as expunged, and the
 * next sync indexed the file again under a new UID. */
static void test_file_arriving_after_scan(void **state)
{
    struct mail_user *mu = open_box("arrive");
    char *err = NULL;
    uint32_t src = append(mu, "Trash", "Subject: moved\n\nbody\n", 0, 0, 0), dst = 0, uidvalidity;
    char from[1400], to[1400];
    snprintf(from, sizeof from, "%s/%s", mail_user_path(mu), file_of(mu, "Trash", src));
    assert_int_equal(mailbox_move(mu, "Trash", &src, 1, "INBOX", &dst, &uidvalidity, &err), MS_OK);
    snprintf(to, sizeof to, "%s/%s", mail_user_path(mu), file_of(mu, "INBOX", dst));
    assert_int_equal(mailbox_sync(mu, "INBOX", &err), 0);
    char before[64];
    snprintf(before, sizeof before, "%s", listing(mu, "INBOX"));

    /* The MOVE has committed, its rename is not done yet: the scan will not see the file. */
    assert_int_equal(rename(to, from), 0);
    journal_committed_rename(mu, from, to);
    assert_int_equal(mailbox_sync(mu, "INBOX", &err), 0);
    assert_string_equal(listing(mu, "INBOX"), before);
    assert_int_equal(access(to, F_OK), 0);
    assert_int_equal(expunged(mu, "INBOX"), 0);
    assert_int_equal(mailbox_sync(mu, "INBOX", &err), 0); /* no second copy to index */
    assert_string_equal(listing(mu, "INBOX"), before);
    assert_int_equal(status_of(mu, "INBOX").messages, 1);
    assert_int_equal(status_of(mu, "Trash").messages, 0);

    /* A file that is gone for good is still dropped (and logged). */
    assert_int_equal(unlink(to), 0);
    assert_int_equal(mailbox_sync(mu, "INBOX", &err), 1);
    assert_string_equal(listing(mu, "INBOX"), "");
    assert_int_equal(expunged(mu, "INBOX"), 1);
    mail_user_close(mu);
}

/* Letters a STORE set after the sync's scan (the file renamed to them, the entry committed
 * with them): the sync does not read the old letters of the name it listed back into the
 * index. It used to, and the message lost the flags the STORE had just reported. */
/* mailbox_sync_needed: no difference after the store's own writes; a file put in by hand,
 * letters renamed by hand and a file removed by hand each differ, until a sync. */
static void test_sync_needed(void **state)
{
    (void)state;
    struct mail_user *mu = open_box("needed");
    char *err = NULL;
    assert_int_equal(mailbox_sync_needed(mu, "INBOX", &err), 0);
    uint32_t uid = append(mu, "INBOX", "Subject: a\n\nbody\n", 0, 0, 0);
    deliver(mu, "INBOX", "Subject: b\n\nbody\n");
    assert_int_equal(mailbox_store(mu, "INBOX", uid, MS_STORE_ADD, MS_FLAG_SEEN, 0, 0, NULL, NULL,
                                   NULL, &err), MS_STORE_CHANGED);
    assert_int_equal(mailbox_sync_needed(mu, "INBOX", &err), 0);
    char path[1400], renamed[1400];
    snprintf(path, sizeof path, "%s/new/1700000000.M1P1.byhand", mail_user_path(mu));
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("Subject: by hand\n\nbody\n", f);
    fclose(f);
    assert_int_equal(mailbox_sync_needed(mu, "INBOX", &err), 1);
    assert_int_equal(mailbox_sync(mu, "INBOX", &err), 1);
    assert_int_equal(mailbox_sync_needed(mu, "INBOX", &err), 0);
    snprintf(path, sizeof path, "%s/%s", mail_user_path(mu), file_of(mu, "INBOX", uid));
    snprintf(renamed, sizeof renamed, "%.*s:2,FS", (int)(strstr(path, ":2,") - path), path);
    assert_int_equal(rename(path, renamed), 0);
    assert_int_equal(mailbox_sync_needed(mu, "INBOX", &err), 1);
    assert_int_equal(mailbox_sync(mu, "INBOX", &err), 1);
    assert_int_equal(mailbox_sync_needed(mu, "INBOX", &err), 0);
    assert_int_equal(unlink(renamed), 0);
    assert_int_equal(mailbox_sync_needed(mu, "INBOX", &err), 1);
    mail_user_close(mu);
}

/* cur/name written by another program: "Subject: i", a blank line, the first i + 1 bytes
 * of body. */
static void put_by_hand(struct mail_user *mu, const char *name, int i, const char *body)
{
    char path[1400];
    snprintf(path, sizeof path, "%s/cur/%s", mail_user_path(mu), name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "Subject: %d\n\n%.*s\n", i, i + 1, body);
    fclose(f);
}

/* The two halves with measuring (imapd's SELECT of a folder with files copied in by hand):
 * mailbox_scan_unindexed marks exactly the files without an entry; after
 * mailbox_scan_measure the sync indexes them with their sizes, and skips one that was
 * removed after it was measured (checked under the writer lock). */
static void test_scan_measure(void **state)
{
    (void)state;
    struct mail_user *mu = open_box("measure");
    char *err = NULL, path[1400];
    deliver(mu, "INBOX", "Subject: a\n\nbody\n");
    const char *hand[] = {"1700000001.M1P1.byhand", "1700000002.M2P1.byhand", "1700000003.M3P1.byhand"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s:2,S", hand[i]);
        put_by_hand(mu, path, i, "xyz");
    }
    struct mailbox_scan *sc = mailbox_scan_new(mu, "INBOX", &err);
    assert_non_null(sc);
    assert_int_equal(mailbox_scan_read(sc), 0);
    assert_int_equal(mailbox_scan_files(sc), 4);
    assert_int_equal(mailbox_scan_unindexed(mu, sc, &err), 3);
    mailbox_scan_measure(sc);
    snprintf(path, sizeof path, "%s/cur/%s:2,S", mail_user_path(mu), hand[1]);
    assert_int_equal(unlink(path), 0); /* gone after it was measured */
    assert_int_equal(mailbox_sync_scanned(mu, sc, &err), 2);
    mailbox_scan_free(sc);
    assert_int_equal(status_of(mu, "INBOX").messages, 3);
    assert_int_equal(status_of(mu, "INBOX").size, 17 + 14 + 16); /* the delivery, the 1st and 3rd by hand */
    assert_int_equal(mailbox_sync_needed(mu, "INBOX", &err), 0);
    mail_user_close(mu);
}

/* mailbox_sync_scanned_some in slices of two: files in name order, UIDs in that order, and
 * files gone since the scan use up none of a slice (else the slices would meet them again
 * and again: a SELECT that never ends). */
static void test_sync_in_slices(void **state)
{
    (void)state;
    struct mail_user *mu = open_box("slices");
    char *err = NULL, path[1400];
    for (int i = 0; i < 7; i++) {
        snprintf(path, sizeof path, "17000000%02d.M%dP1.byhand:2,", i, i);
        put_by_hand(mu, path, i, "abcdefg");
    }
    struct mailbox_scan *sc = mailbox_scan_new(mu, "INBOX", &err);
    assert_non_null(sc);
    assert_int_equal(mailbox_scan_read(sc), 0);
    for (int i = 0; i < 4; i++) { /* the first four gone after the scan */
        snprintf(path, sizeof path, "%s/cur/17000000%02d.M%dP1.byhand:2,", mail_user_path(mu), i, i);
        assert_int_equal(unlink(path), 0);
    }
    bool more = true;
    int calls = 0, changes = 0;
    while (more && calls < 10) {
        int r = mailbox_sync_scanned_some(mu, sc, 2, &more, &err);
        assert_true(r >= 0);
        changes += r;
        calls++;
    }
    mailbox_scan_free(sc);
    assert_false(more);
    assert_int_equal(changes, 3);
    assert_int_equal(calls, 2); /* 2 of the 3 left, then the last */
    assert_int_equal(status_of(mu, "INBOX").messages, 3);
    assert_int_equal(status_of(mu, "INBOX").size, 18 + 19 + 20); /* the files of 4, 5 and 6 */
    assert_int_equal(mailbox_sync_needed(mu, "INBOX", &err), 0);
    mail_user_close(mu);
}

/* A write transaction that changes nothing commits nothing: its ID goes to the next real
 * commit, so it must not count as a commit whose data sync wrote the meta pages before it
 * (ms_note_synced): a STORE whose syncs are deferred still owes its index sync after a
 * sync that found nothing to do. */
static void test_empty_transaction_owes_no_sync(void **state)
{
    (void)state;
    struct mail_user *mu = open_box("empty");
    char *err = NULL;
    uint32_t uid = append(mu, "INBOX", "Subject: s\n\nbody\n", 0, 0, 0);
    mail_user_defer_syncs(mu, true);
    assert_int_equal(mailbox_store(mu, "INBOX", uid, MS_STORE_ADD, MS_FLAG_FLAGGED, 0, 0, NULL, NULL,
                                   NULL, &err), MS_STORE_CHANGED);
    mail_user_defer_syncs(mu, false);
    struct mailstore_syncs *owed = mail_user_take_syncs(mu);
    assert_non_null(owed);
    MDB_envinfo info;
    assert_int_equal(mdb_env_info(mu->e->le.env, &info), 0);
    size_t store_txn = info.me_last_txnid;
    assert_int_equal(mailbox_sync(mu, "INBOX", &err), 0); /* nothing to do: an empty write */
    assert_true(atomic_load(&mu->e->synced) < store_txn);
    assert_int_equal(mailstore_syncs_run(owed), 0);
    assert_true(atomic_load(&mu->e->synced) >= store_txn);
    mailstore_syncs_free(owed);
    mail_user_close(mu);
}

static void test_letters_changed_after_scan(void **state)
{
    struct mail_user *mu = open_box("letters");
    char *err = NULL;
    uint32_t uid = append(mu, "INBOX", "Subject: flags\n\nbody\n", MS_FLAG_FLAGGED, 0, 0);
    assert_int_equal(mailbox_store(mu, "INBOX", uid, MS_STORE_ADD, MS_FLAG_SEEN, 0, 0, NULL, NULL,
                                   NULL, &err), MS_STORE_CHANGED);
    char now[1400], old[1400];
    snprintf(now, sizeof now, "%s/%s", mail_user_path(mu), file_of(mu, "INBOX", uid));
    assert_non_null(strstr(now, ":2,FS"));
    snprintf(old, sizeof old, "%.*s:2,F", (int)(strstr(now, ":2,") - now), now);
    char want[64];
    snprintf(want, sizeof want, "%u:%u:0;", uid, MS_FLAG_FLAGGED | MS_FLAG_SEEN);
    assert_string_equal(listing(mu, "INBOX"), want);

    /* The scan lists the name before the STORE's rename, which happens before the sync's
     * transaction. */
    assert_int_equal(rename(now, old), 0);
    journal_committed_rename(mu, old, now);
    assert_int_equal(mailbox_sync(mu, "INBOX", &err), 0);
    assert_string_equal(listing(mu, "INBOX"), want);
    assert_int_equal(access(now, F_OK), 0);

    /* Letters another program changes are still taken over. */
    assert_int_equal(rename(now, old), 0);
    assert_int_equal(mailbox_sync(mu, "INBOX", &err), 1);
    snprintf(want, sizeof want, "%u:%u:0;", uid, MS_FLAG_FLAGGED);
    assert_string_equal(listing(mu, "INBOX"), want);
    mail_user_close(mu);
}

/* APPEND with an INTERNALDATE in the past, and a sync (another session's SELECT) while the
 * message is in tmp/ with that date as its mtime: the file is not taken for a 36-hour-old
 * leftover. It used to be deleted, and the APPEND failed (No such file or directory). */
#define OLD_DATE 1203699983 /* 22-Feb-2008, as the From_ lines of imaptest's mboxes */

struct racing_fill {
    struct mail_user *mu;
    int syncs;
};

static int fill_then_sync(void *ctx, int fd)
{
    struct racing_fill *rf = ctx;
    const char *text = "Subject: old\n\nbody\n";
    struct timespec ts[2] = {{.tv_sec = OLD_DATE}, {.tv_sec = OLD_DATE}};
    char *err = NULL;
    if (write_full(fd, text, strlen(text)) < 0 || futimens(fd, ts) < 0) /* as APPEND does */
        return -1;
    if (mailbox_sync(rf->mu, "INBOX", &err) < 0)
        fail_msg("sync: %s", err);
    rf->syncs++;
    return 0;
}

static void test_append_survives_sync(void **state)
{
    struct mail_user *mu = open_box("old");
    struct racing_fill rf = {mu, 0};
    uint32_t uid = 0, uidvalidity = 0;
    char *err = NULL;
    enum mailstore_result r = mailbox_append(mu, "INBOX", 0, fill_then_sync, &rf, 0, 0, OLD_DATE,
                                             &uid, &uidvalidity, &err);
    if (r != MS_OK)
        fail_msg("append: %d %s", r, err ? err : "");
    assert_int_equal(rf.syncs, 1);
    assert_int_equal(uid, 1);
    char path[1400];
    snprintf(path, sizeof path, "%s/%s", mail_user_path(mu), file_of(mu, "INBOX", uid));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mtime, OLD_DATE);
    assert_int_equal(count_in(mu, "tmp"), 0);
    assert_int_equal(mailbox_sync(mu, "INBOX", &err), 0);
    mail_user_close(mu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_arriving_after_scan),
        cmocka_unit_test(test_letters_changed_after_scan),
        cmocka_unit_test(test_sync_needed),
        cmocka_unit_test(test_scan_measure),
        cmocka_unit_test(test_sync_in_slices),
        cmocka_unit_test(test_empty_transaction_owes_no_sync),
        cmocka_unit_test(test_append_survives_sync),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
