/* event.c - epoll loop with timers and a tick (see event.h).
 *
 * Timers live in a binary min-heap ordered by (due time, creation order), so the next
 * deadline is heap[0] and adding, firing or cancelling a timer costs O(log n) however many
 * sessions hold one. A timer's id names its slot in a slot table plus that slot's generation: the
 * slot holds the timer's current heap position (cancel finds it without a search) and the
 * generation makes the id of a fired or cancelled timer harmless when its slot is reused. */
#include "event.h"
#include "log.h"
#include "mem.h"
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct handler {
    event_fn fn;
    void *ctx;
    uint32_t gen; /* distinguishes a reused descriptor number from the one an event was for */
};

/* Half of an id is the slot number + 1 (so no id is 0), the other half its generation. */
#define TIMER_SLOT_BITS (sizeof(unsigned long) * CHAR_BIT / 2)
#define TIMER_SLOT_MASK ((1UL << TIMER_SLOT_BITS) - 1)
#define TIMER_NO_POS ((size_t)-1)

struct timer {
    unsigned long id;
    long long due;
    unsigned long long seq; /* creation order: timers due at the same time fire in it */
    timer_fn fn;
    void *ctx;
};

struct timer_slot {
    unsigned long gen;
    size_t pos;       /* index in the heap, TIMER_NO_POS when the slot is free */
    size_t next_free; /* free list link (slot index + 1, 0 ends it) */
};

struct event_loop {
    int epfd;
    struct handler **by_fd;
    int nfd;
    struct timer *heap; /* min-heap on (due, seq) */
    unsigned long long next_seq;
    size_t ntimers, heap_cap;
    struct timer_slot *slots;
    size_t nslots, free_slot; /* free_slot: first free slot + 1, 0 for none */
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
    free(l->heap);
    free(l->slots);
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

/* --- the timer heap --- */

static size_t timer_slot_of(unsigned long id) { return (size_t)(id & TIMER_SLOT_MASK) - 1; }

static bool timer_before(const struct timer *a, const struct timer *b)
{
    return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

/* Put t at heap position pos and record the position in its slot. */
static void heap_place(struct event_loop *l, size_t pos, const struct timer *t)
{
    l->heap[pos] = *t;
    l->slots[timer_slot_of(t->id)].pos = pos;
}

static void heap_up(struct event_loop *l, size_t pos)
{
    struct timer t = l->heap[pos];
    while (pos > 0) {
        size_t parent = (pos - 1) / 2;
        if (!timer_before(&t, &l->heap[parent]))
            break;
        heap_place(l, pos, &l->heap[parent]);
        pos = parent;
    }
    heap_place(l, pos, &t);
}

static void heap_down(struct event_loop *l, size_t pos)
{
    struct timer t = l->heap[pos];
    for (;;) {
        size_t child = 2 * pos + 1;
        if (child >= l->ntimers)
            break;
        if (child + 1 < l->ntimers && timer_before(&l->heap[child + 1], &l->heap[child]))
            child++;
        if (!timer_before(&l->heap[child], &t))
            break;
        heap_place(l, pos, &l->heap[child]);
        pos = child;
    }
    heap_place(l, pos, &t);
}

/* Take the timer at heap position pos out of the heap and free its slot. */
static struct timer heap_remove(struct event_loop *l, size_t pos)
{
    struct timer t = l->heap[pos];
    size_t slot = timer_slot_of(t.id);
    l->slots[slot].pos = TIMER_NO_POS;
    l->slots[slot].gen++;
    l->slots[slot].next_free = l->free_slot;
    l->free_slot = slot + 1;
    if (--l->ntimers > pos) {
        heap_place(l, pos, &l->heap[l->ntimers]);
        heap_down(l, pos);
        heap_up(l, pos);
    }
    return t;
}

/* Grow the slot table and put the new slots on the free list. */
static void slots_grow(struct event_loop *l)
{
    size_t cap = l->nslots ? l->nslots * 2 : 16;
    if (cap > TIMER_SLOT_MASK)
        cap = TIMER_SLOT_MASK;
    if (cap <= l->nslots)
        log_fatal("too many timers");
    l->slots = xreallocarray(l->slots, cap, sizeof *l->slots);
    for (size_t i = cap; i-- > l->nslots;) {
        l->slots[i] = (struct timer_slot){.gen = 1, .pos = TIMER_NO_POS, .next_free = l->free_slot};
        l->free_slot = i + 1;
    }
    l->nslots = cap;
}

static size_t slot_alloc(struct event_loop *l)
{
    if (!l->free_slot)
        slots_grow(l);
    size_t slot = l->free_slot - 1;
    l->free_slot = l->slots[slot].next_free;
    return slot;
}

unsigned long event_timer(struct event_loop *l, long ms, timer_fn fn, void *ctx)
{
    size_t slot = slot_alloc(l);
    if (l->ntimers == l->heap_cap) {
        l->heap_cap = l->heap_cap ? l->heap_cap * 2 : 16;
        l->heap = xreallocarray(l->heap, l->heap_cap, sizeof *l->heap);
    }
    unsigned long id = (l->slots[slot].gen & TIMER_SLOT_MASK) << TIMER_SLOT_BITS | (slot + 1);
    struct timer t = {id, event_now_ms() + ms, l->next_seq++, fn, ctx};
    heap_place(l, l->ntimers++, &t);
    heap_up(l, l->ntimers - 1);
    return id;
}

void event_timer_cancel(struct event_loop *l, unsigned long id)
{
    if ((id & TIMER_SLOT_MASK) == 0)
        return;
    size_t slot = timer_slot_of(id);
    if (slot >= l->nslots || l->slots[slot].pos == TIMER_NO_POS)
        return;
    size_t pos = l->slots[slot].pos;
    if (l->heap[pos].id == id) /* not an older timer that had this slot */
        heap_remove(l, pos);
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
    if (l->ntimers && l->heap[0].due < due)
        due = l->heap[0].due;
    return due > now ? (long)(due - now) : 0;
}

/* The timers due, but only those set before this run: one a callback sets, even for 0 ms,
 * waits for the next turn, so that work cut into slices lets the file descriptors in. */
static void run_timers(struct event_loop *l)
{
    long long now = event_now_ms();
    unsigned long long before = l->next_seq;
    while (l->ntimers && l->heap[0].due <= now && l->heap[0].seq < before) {
        struct timer t = heap_remove(l, 0); /* before the call: it may add or cancel timers */
        t.fn(l, t.ctx);
        now = event_now_ms();
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
