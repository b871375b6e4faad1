/* helper.h - the jobs of local-mda's helper (helper.c): one delivery of a message to an
 * alias command (pipe.c) or an alias file (mbox.c), done in a child process that runs as
 * default_privs. The helper protocol between local-mda and its helper is doc/ipc.md,
 * "local-mda's helper". */
#ifndef POSTHORN_LOCAL_HELPER_H
#define POSTHORN_LOCAL_HELPER_H
#include "local.h"
#include <pwd.h>

/* One command or file delivery, as the helper received it. */
struct special_job {
    struct config *cfg;
    enum alias_kind kind;      /* ALIAS_COMMAND or ALIAS_FILE */
    const char *queue_id;
    const char *sender;        /* envelope sender, "" for <> */
    const char *recipient;     /* the alias that lists the target (Delivered-To:) */
    const char *original;      /* the original recipient */
    const char *extension;     /* the recipient's extension, or NULL */
    const char *target;        /* the command or the path, as the aliases file has it */
    const char *user, *home;   /* who runs it (default_privs, or the instance's user) */
    int qfd;                   /* the queue file, read-only */
    struct queue_msg msg;      /* read from qfd in the child */
};

/* Pass the message as delivered (Return-Path:, Delivered-To:, then the queued content)
 * to fn in chunks; fn returns non-zero to stop. 0 when all was passed, 1 when fn stopped,
 * -1 with *err when the queue file could not be read. */
int special_message(struct special_job *j, int (*fn)(void *ctx, const char *data, size_t len),
                    void *ctx, char **err);

/* pipe.c: run the command with the message on its standard input; the outcome in o. */
void pipe_deliver(struct special_job *j, struct outcome *o);
/* mbox.c: append the message to the file in mbox format; the outcome in o. */
void mbox_deliver(struct special_job *j, struct outcome *o);

#endif
