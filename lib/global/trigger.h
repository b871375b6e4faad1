/* trigger.h - the client that wakes qmgr: connect to SPOOL/private/qmgr, send
 * "request=wakeup" (doc/ipc.md, "qmgr: request=wakeup") and close, never waiting: the
 * socket is non-blocking, so a qmgr whose backlog is full just misses this wakeup. Wakeups
 * are lossy by design (qmgr also rescans incoming/ every queue_run_delay), so callers may
 * ignore the result. Safe from any thread; touches no shared state; does not log. */
#ifndef POSTHORN_TRIGGER_H
#define POSTHORN_TRIGGER_H

/* 0 when the wakeup was sent, -1 (errno) when it was not. */
int trigger_qmgr(const char *spool);
/* Ask qmgr to deliver the deferred mail now (doc/ipc.md, "qmgr: request=flush") and wait
 * at most timeout_ms for its answer: 0, or -1 with *err (malloc'ed) and errno (ENOENT or
 * ECONNREFUSED: qmgr is not running). Blocking; for commands and the pickup service. */
int trigger_qmgr_flush(const char *spool, int timeout_ms, char **err);

#endif
