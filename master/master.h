/* master.h - shared state of the master process: the service table built from master.cf,
 * the listening sockets, and the children it supervises. */
#ifndef POSTHORN_MASTER_H
#define POSTHORN_MASTER_H
#include "config.h"
#include "mastercf.h"
#include <stdbool.h>
#include <sys/types.h>

struct service {
    struct service *next;
    char *key;          /* "inet:127.0.0.1:2525" or "unix:private/qmgr" */
    char *name;         /* master.cf service column */
    char *type;         /* inet | unix */
    char *command;      /* program in daemon_directory */
    char **args;        /* NULL-terminated extra arguments */
    int listen_fd;
    int maxproc;
    unsigned live;      /* children running */
    bool retired;       /* replaced by a reload: let its children finish, start no more */
    long long next_spawn_ms;
    long long backoff_ms;
};

struct child {
    pid_t pid;
    struct service *svc;
    long long started_ms;
};

struct master {
    char *confdir;
    struct config *cfg;
    struct service *services;
    struct child *children;
    size_t nchildren;
    int alive_pipe[2]; /* children get the read end at fd 4; EOF means master is gone */
    int lock_fd;       /* SPOOL/pid/master.pid, flock'ed while master runs */
    bool stopping;
    unsigned long reloads; /* SIGHUPs handled, for SPOOL/pid/master.reload */
    bool reload_waiting;   /* the last reload's singletons wait for their old generation */
};

/* listen.c: bind the socket for one master.cf entry; -1 after logging/printing why. */
int master_listen(struct master *m, const struct mastercf_entry *e, char **err);

/* spawn.c */
void master_spawn_missing(struct master *m);
void master_reap(struct master *m);
void master_signal_all(struct master *m, int sig, bool only_retired);
void master_write_status(struct master *m);
long long master_next_deadline(struct master *m);
/* True while a new singleton service waits for its old generation to exit. */
bool master_generation_pending(struct master *m);

/* services.c: build the service list from master.cf, reusing listeners of *old. */
int master_load_services(struct master *m, struct mastercf *mcf, char **err);
void master_free_service(struct service *s);
void master_forget_retired(struct master *m);

long long master_now_ms(void);

#endif
