/* event.c - epoll loop with timers and a tick (see event.h). */
#include "event.h"
#include "log.h"
#include "mem.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct handler {
    event_fn fn;
    void *ctx;
    uint32_t gen; /* distinguishes a reused descriptor number from the one an event was for */
};

struct timer {
    unsigned long id;
    long long due;
    timer_fn fn;
    void *ctx;
};

struct event_loop {
    int epfd;
    struct handler **by_fd;
    int nfd;
    struct timer *timers;
    size_t ntimers;
    unsigned long next_timer_id;
    uint32_t next_gen;
    timer_fn tick;
    void *tick_ctx;
    long long next_tick;
    bool running;
};

long long event_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct event_loop *event_loop_new(void)
{
    struct event_loop *l = xcalloc(1, sizeof *l);
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0)
        log_fatal("epoll_create1: %m");
    return l;
}

void event_loop_free(struct event_loop *l)
{
    for (int i = 0; i < l->nfd; i++)
        free(l->by_fd[i]);
    free(l->by_fd);
    free(l->timers);
    close(l->epfd);
    free(l);
}

int event_add(struct event_loop *l, int fd, uint32_t events, event_fn fn, void *ctx)
{
    if (fd >= l->nfd) {
        int n = l->nfd ? l->nfd : 64;
        while (n <= fd)
            n *= 2;
        l->by_fd = xreallocarray(l->by_fd, (size_t)n, sizeof *l->by_fd);
        memset(l->by_fd + l->nfd, 0, (size_t)(n - l->nfd) * sizeof *l->by_fd);
        l->nfd = n;
    }
    uint32_t gen = ++l->next_gen;
    struct epoll_event ev = {.events = events, .data.u64 = (uint64_t)gen << 32 | (uint32_t)fd};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return -1;
    free(l->by_fd[fd]);
    l->by_fd[fd] = xmalloc(sizeof(struct handler));
    *l->by_fd[fd] = (struct handler){fn, ctx, gen};
    return 0;
}

int event_mod(struct event_loop *l, int fd, uint32_t events)
{
    if (fd < 0 || fd >= l->nfd || !l->by_fd[fd]) {
        errno = ENOENT;
        return -1;
    }
    struct epoll_event ev = {.events = events,
                             .data.u64 = (uint64_t)l->by_fd[fd]->gen << 32 | (uint32_t)fd};
    return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev);
}

void event_del(struct event_loop *l, int fd)
{
    if (fd < 0 || fd >= l->nfd || !l->by_fd[fd])
        return;
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
    free(l->by_fd[fd]);
    l->by_fd[fd] = NULL;
}

unsigned long event_timer(struct event_loop *l, long ms, timer_fn fn, void *ctx)
{
    l->timers = xreallocarray(l->timers, l->ntimers + 1, sizeof *l->timers);
    unsigned long id = ++l->next_timer_id;
    l->timers[l->ntimers++] = (struct timer){id, event_now_ms() + ms, fn, ctx};
    return id;
}

void event_timer_cancel(struct event_loop *l, unsigned long id)
{
    for (size_t i = 0; i < l->ntimers; i++)
        if (l->timers[i].id == id) {
            l->timers[i] = l->timers[--l->ntimers];
            return;
        }
}

void event_set_tick(struct event_loop *l, timer_fn fn, void *ctx)
{
    l->tick = fn;
    l->tick_ctx = ctx;
    l->next_tick = event_now_ms() + 1000;
}

void event_stop(struct event_loop *l) { l->running = false; }
bool event_running(const struct event_loop *l) { return l->running; }

static long next_wait(struct event_loop *l)
{
    long long now = event_now_ms(), due = now + 1000;
    if (l->tick && l->next_tick < due)
        due = l->next_tick;
    for (size_t i = 0; i < l->ntimers; i++)
        if (l->timers[i].due < due)
            due = l->timers[i].due;
    return due > now ? (long)(due - now) : 0;
}

static void run_timers(struct event_loop *l)
{
    long long now = event_now_ms();
    for (size_t i = 0; i < l->ntimers;) {
        if (l->timers[i].due <= now) {
            struct timer t = l->timers[i];
            l->timers[i] = l->timers[--l->ntimers];
            t.fn(l, t.ctx);
            i = 0; /* the callback may have changed the array */
            now = event_now_ms();
        } else {
            i++;
        }
    }
    if (l->tick && now >= l->next_tick) {
        l->next_tick = now + 1000;
        l->tick(l, l->tick_ctx);
    }
}

void event_run(struct event_loop *l)
{
    struct epoll_event evs[128];
    l->running = true;
    while (l->running) {
        int n = epoll_wait(l->epfd, evs, 128, (int)next_wait(l));
        if (n < 0) {
            if (errno == EINTR) {
                run_timers(l);
                continue;
            }
            log_fatal("epoll_wait: %m");
        }
        for (int i = 0; i < n && l->running; i++) {
            int fd = (int)(uint32_t)evs[i].data.u64;
            uint32_t gen = (uint32_t)(evs[i].data.u64 >> 32);
            if (fd < l->nfd && l->by_fd[fd] && l->by_fd[fd]->gen == gen) {
                struct handler h = *l->by_fd[fd];
                h.fn(l, fd, evs[i].events, h.ctx);
            }
        }
        run_timers(l);
    }
}
