/* services.c - the service list built from master.cf. A reload builds a new list, taking
 * over the listening sockets of services that still exist (no moment without a listener),
 * and retires the old list: its children drain and exit, none are restarted. */
#include "master.h"
#include "log.h"
#include "mem.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *service_key(const struct mastercf_entry *e)
{
    if (strcmp(e->type, "inet") == 0)
        return xasprintf("inet:%s", e->service);
    return xasprintf("unix:%s/%s", e->private_ ? "private" : "public", e->service);
}

static struct service *find_live(struct master *m, const char *key)
{
    for (struct service *s = m->services; s; s = s->next)
        if (!s->retired && strcmp(s->key, key) == 0)
            return s;
    return NULL;
}

void master_free_service(struct service *s)
{
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    free(s->key);
    free(s->name);
    free(s->type);
    free(s->command);
    for (char **a = s->args; a && *a; a++)
        free(*a);
    free(s->args);
    free(s);
}

int master_load_services(struct master *m, struct mastercf *mcf, char **err)
{
    struct service *fresh = NULL, **tail = &fresh;
    long long dflt = config_int(m->cfg, PARAM(default_process_limit));
    for (size_t i = 0; i < mcf->n; i++) {
        const struct mastercf_entry *e = &mcf->v[i];
        struct service *s = xcalloc(1, sizeof *s);
        s->key = service_key(e);
        s->name = xstrdup(e->service);
        s->type = xstrdup(e->type);
        s->command = xstrdup(e->command);
        s->args = xcalloc(e->nargs + 1, sizeof *s->args);
        for (size_t j = 0; j < e->nargs; j++)
            s->args[j] = xstrdup(e->args[j]);
        /* '-': as many processes as CPUs (event-driven daemons need no more), at most
         * default_process_limit. */
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        s->maxproc = e->maxproc ? e->maxproc : (int)(cpus > 0 && cpus < dflt ? cpus : dflt);
        struct service *old = find_live(m, s->key);
        s->listen_fd = old ? dup(old->listen_fd) : master_listen(m, e, err);
        *tail = s;
        tail = &s->next;
        if (s->listen_fd < 0) {
            if (old)
                *err = xasprintf("dup listener of %s: %m", s->name);
            while (fresh) {
                struct service *n = fresh->next;
                master_free_service(fresh);
                fresh = n;
            }
            return -1;
        }
    }
    /* Retire the old generation; append it behind the new one. */
    for (struct service *s = m->services; s; s = s->next) {
        s->retired = true;
        if (s->listen_fd >= 0) {
            close(s->listen_fd);
            s->listen_fd = -1;
        }
    }
    *tail = m->services;
    m->services = fresh;
    return 0;
}

void master_forget_retired(struct master *m)
{
    for (struct service **p = &m->services; *p;) {
        struct service *s = *p;
        if (s->retired && s->live == 0) {
            *p = s->next;
            master_free_service(s);
        } else {
            p = &s->next;
        }
    }
}
