/* ipc_server.h - serving one connection of an attribute-protocol service (doc/ipc.md) from
 * start to finish, in blocking style, inside the skeleton's accept callback: the daemons
 * whose requests are short bursts of work (local-mda, dkim-signer) run several processes on
 * one listener (master.cf maxproc) instead of an event loop per process.
 *
 * The connection is announced as protocol NAME version 1, then each request (with at most
 * one descriptor attached) is handed to the handler and its reply sent, in order, until the
 * peer closes, no request comes within timeout_ms, a signal (stop, reload) interrupts the
 * wait, or a request is malformed (the handler returns -1; the connection is then closed
 * and the reason logged as "WHAT: REASON"). */
#ifndef POSTHORN_IPC_SERVER_H
#define POSTHORN_IPC_SERVER_H
#include "config.h"
#include "ipc.h"
#include <stdbool.h>
#include <sys/types.h>

/* Answer req (passed_fd: the descriptor that came with it, or -1; closed after the call)
 * into reply. 0, or -1 with *err (malloc'ed) when the request is malformed. */
typedef int (*ipc_request_fn)(void *ctx, const struct attrs *req, int passed_fd,
                              struct attrs *reply, char **err);

/* Who may connect (doc/ipc.md): root, our own user, and mail_owner. */
struct ipc_peers {
    uid_t mail_owner;
    bool have_mail_owner;
};
/* Resolve mail_owner; call before dropping privileges (pre_init). */
void ipc_peers_init(struct ipc_peers *p, struct config *cfg);
/* Is the peer of fd one of them (SO_PEERCRED)? A refusal is logged as "refusing a WHAT
 * connection from uid N (pid N)". */
bool ipc_peers_ok(const struct ipc_peers *p, int fd, const char *what);

/* Serve connection fd (it is made blocking, and closed at the end). */
void ipc_server_serve(int fd, const char *protocol, int timeout_ms, const char *what,
                      ipc_request_fn fn, void *ctx);

#endif
