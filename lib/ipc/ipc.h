/* ipc.h - the one request/response protocol between Posthorn processes (doc/ipc.md).
 *
 * A message is a sequence of "name=value\n" lines ended by an empty line. Names are
 * [a-z0-9_]; values are percent-encoded for '%', CR, LF and NUL, so any byte string fits.
 * The server speaks first: "protocol=NAME\nversion=N\n\n"; the client checks both.
 * Readers are strict: an over-long message (IPC_MAX_MESSAGE), a bad line or a missing
 * required attribute fails closed. A file descriptor can travel with a message (SCM_RIGHTS,
 * lib/io/fdpass.h): at most one; more make the receiving ipc_recv fail. */
#ifndef POSTHORN_IPC_H
#define POSTHORN_IPC_H
#include "buf.h"
#include <stdbool.h>
#include <stddef.h>

#define IPC_MAX_MESSAGE (1024 * 1024)
#define IPC_VERSION "1"

struct attr {
    char *name;
    char *value;
};

struct attrs {
    struct attr *v;
    size_t n;
};

void attrs_add(struct attrs *a, const char *name, const char *value);
void attrs_addf(struct attrs *a, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *attrs_get(const struct attrs *a, const char *name);
/* Integer attribute; returns false when missing or not a number. */
bool attrs_get_ll(const struct attrs *a, const char *name, long long *out);
void attrs_free(struct attrs *a);

/* Repeated groups (doc/ipc.md, "Repeated groups"): element k of the group NAME is the
 * attribute NAME_k, k in decimal without sign or leading zeros (rcpt_0, rcpt_1, ...).
 * Indexes are at most IPC_INDEX_DIGITS digits long. */
#define IPC_INDEX_DIGITS 9
void attrs_add_indexed(struct attrs *a, const char *name, size_t index, const char *value);
const char *attrs_get_indexed(const struct attrs *a, const char *name, size_t index);
/* True with *index when attr is NAME_k for this name and a well-formed k. */
bool attrs_name_indexed(const char *attr, const char *name, size_t *index);
/* The size of a group whose every element must be there: the attributes NAME_... are
 * exactly NAME_0 .. NAME_{n-1}, each once (no gap, no repeat, no malformed index).
 * 0 with *count = n (0 when there are none), or -1 with *err (malloc'ed). */
int attrs_group_count(const struct attrs *a, const char *name, size_t *count, char **err);
/* A group whose elements are optional: every NAME_... is a well-formed NAME_k with
 * k < limit, each k at most once. 0, or -1 with *err (malloc'ed). */
int attrs_group_check_sparse(const struct attrs *a, const char *name, size_t limit, char **err);

/* Append the encoding of a to out. */
void ipc_encode(struct buf *out, const struct attrs *a);
/* Parse one message at the start of data. Returns 1 with *consumed set when complete,
 * 0 when more bytes are needed, -1 when malformed (reason in *err, malloc'ed). */
int ipc_decode(const char *data, size_t len, struct attrs *a, size_t *consumed, char **err);

/* A blocking connection with a read buffer, for clients and one-request servers. */
struct ipc_conn {
    int fd;
    int timeout_ms; /* per read/write wait; <= 0 means no limit */
    struct buf in;
    int passed_fd; /* a descriptor received with the last message, or -1 */
    bool passed_extra; /* more than one descriptor came: the next ipc_recv fails */
};

void ipc_conn_init(struct ipc_conn *c, int fd, int timeout_ms);
void ipc_conn_close(struct ipc_conn *c);
/* Connect to a UNIX stream socket at path; returns fd or -1 (errno). */
int ipc_connect(const char *path);
/* Send a message, with fd_to_pass >= 0 attached as SCM_RIGHTS. 0 or -1 (errno). */
int ipc_send(struct ipc_conn *c, const struct attrs *a, int fd_to_pass);
/* Receive one message. 1 ok, 0 clean EOF before any byte, -1 error (*err malloc'ed). */
int ipc_recv(struct ipc_conn *c, struct attrs *a, char **err);
/* Server side: announce protocol; client side: receive and check the announcement. */
int ipc_announce(struct ipc_conn *c, const char *protocol);
int ipc_expect(struct ipc_conn *c, const char *protocol, char **err);

#endif
