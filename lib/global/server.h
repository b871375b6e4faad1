/* server.h - the one service skeleton every daemon is built on.
 *
 * master starts a daemon as
 *     PROGRAM -c CONFDIR -n SERVICE -t inet|unix [-o name=value]... [-v]
 * with the listening socket at SERVER_LISTEN_FD and the read end of the master-alive pipe at
 * SERVER_MASTER_FD (EOF there means master is gone). The skeleton parses the options, loads
 * main.cf plus the -o overrides, opens the log, runs pre_init (still privileged: read keys),
 * drops to the user named by run_as (a main.cf parameter such as mail_owner), runs
 * post_init, then runs the event loop: it accepts connections (EPOLLEXCLUSIVE, so several
 * processes can share a listener) and hands each to accept(). SIGTERM ends the process;
 * SIGHUP (reload) or a vanished master stop accepting and end the process once busy()
 * reports no sessions left (or after server_drain_timeout). A daemon's main is its
 * struct server_def plus one call to server_main(): SERVER_MAIN() below. */
#ifndef POSTHORN_SERVER_H
#define POSTHORN_SERVER_H
#include "config.h"
#include "event.h"
#include <stdbool.h>

#define SERVER_LISTEN_FD 3
#define SERVER_MASTER_FD 4

struct server {
    struct config *cfg;
    struct event_loop *loop;
    const char *program;   /* "smtpd" */
    const char *service;   /* master.cf service name, e.g. "127.0.0.1:2525" or "qmgr" */
    const char *transport; /* "inet" or "unix" */
    const char *spool;     /* queue_directory */
    int listen_fd;         /* -1 when not started by master with a listener */
    bool draining;         /* no longer accepting; exit when idle */
    void *app;             /* the daemon's own state */
};

struct server_def {
    const char *program;
    const char *log_name; /* in log lines (SYSLOG_NAME/LOG_NAME[pid]); NULL: program */
    const char *run_as; /* parameter naming the user to run as: "mail_owner" or "vmail_owner" */
    void (*pre_init)(struct server *srv);
    void (*post_init)(struct server *srv);
    /* A new connection (non-blocking, close-on-exec); the daemon owns fd. */
    void (*accept)(struct server *srv, int fd);
    /* How many sessions are still open (for draining); NULL means 0. */
    unsigned (*busy)(struct server *srv);
    /* Called about once a second. */
    void (*tick)(struct server *srv);
    /* Called when draining starts (reload or master gone). */
    void (*drain)(struct server *srv);
    /* Called on SIGTERM (a stop), just before the process ends; NULL: nothing to do. */
    void (*stop)(struct server *srv);
};

int server_main(int argc, char **argv, const struct server_def *def);

/* A daemon's whole main: its struct server_def, given as designated initializers, and the
 * one call.   SERVER_MAIN(.program = "qmgr", .run_as = PARAM(mail_owner), .accept = ...) */
#define SERVER_MAIN(...)                                                                    \
    int main(int argc, char **argv)                                                         \
    {                                                                                       \
        static const struct server_def server_def_ = {__VA_ARGS__};                         \
        return server_main(argc, argv, &server_def_);                                       \
    }
/* Stop the loop now (the process then exits 0). */
void server_exit(struct server *srv);

#endif
