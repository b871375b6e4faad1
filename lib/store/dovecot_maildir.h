/* dovecot_maildir.h - reading a Maildir++ as Dovecot keeps it, for imports (posthorn
 * migrate, doc/migration.md): the folders of a user's root (INBOX, ".Name" directories),
 * and for each folder its messages with the UIDs of its dovecot-uidlist, the flags and
 * keyword letters of the file names, the names of those letters (dovecot-keywords), and
 * the file mtimes (INTERNALDATE). dovecot-uidlist formats read: version 3 (Dovecot 1.1 and
 * later: "3 V<uidvalidity> N<nextuid> G<guid> ..." then "<uid> [<key><value> ...]
 * :<file name>") and version 1 ("1 <uidvalidity> <nextuid>" then "<uid> <file name>",
 * also Courier's courierimapuiddb). A record names the file it had when it was written;
 * the file is found by its base name (before ":2,"), as Dovecot does. Dovecot keeps
 * dovecot-uidlist and dovecot-keywords in the control directory, which is the folder
 * itself unless mail_location says CONTROL=. Nothing is written; problems are added to
 * errs as "file:line: reason" or "path: reason". Not thread-safe (errno). */
#ifndef POSTHORN_DOVECOT_MAILDIR_H
#define POSTHORN_DOVECOT_MAILDIR_H
#include "errlist.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dovecot_msg {
    uint32_t uid;        /* 0: no record (a file Dovecot had not numbered yet) */
    char *name;          /* base name */
    char *path;          /* the file */
    bool in_cur;
    uint32_t flags;      /* MS_FLAG_* (lib/store/mailstore.h) */
    uint32_t letters;    /* keyword letters a..z: bit i = keyword i of keywords[] */
    uint64_t mtime;
    char *pop3_uidl;     /* the record's P field (a UIDL Dovecot kept), or NULL */
    char *guid;          /* the record's G field, or NULL (the GUID is the base name) */
    unsigned line;       /* of the record in dovecot-uidlist, 0 without one */
};

struct dovecot_folder {
    char *uidlist;            /* path of dovecot-uidlist, for messages */
    bool has_uidlist;         /* false: Dovecot never numbered this folder */
    uint32_t uidvalidity, nextuid;
    char *keywords[26];       /* dovecot-keywords: index -> name, NULL where unused */
    struct dovecot_msg *msgs; /* UID order, then those without a UID in name order */
    size_t n;
    size_t gone;              /* records whose file is no longer there (expunged) */
};

/* Read the folder whose messages are in dir (cur/, new/) and whose control files are in
 * control (NULL: dir). 0, or -1 when the folder cannot be read at all (errs says why);
 * a bad record is reported and skipped. */
int dovecot_folder_read(const char *dir, const char *control, struct dovecot_folder *f,
                        struct errlist *errs);
void dovecot_folder_free(struct dovecot_folder *f);

/* The folders of a Maildir++ root: "INBOX" first, then each ".Name" directory that holds
 * cur/ as "Name", sorted. NULL-terminated, malloc'ed (free each and the array), or NULL
 * with the reason in errs. */
char **dovecot_folders(const char *root, struct errlist *errs);

#endif
