/* event.h - a small epoll event loop: descriptor callbacks, one-shot timers and a
 * once-per-second tick for sweeping idle sessions. Single-threaded; other threads wake it
 * through a descriptor (e.g. an eventfd) registered like any other. */
#ifndef POSTHORN_EVENT_H
#define POSTHORN_EVENT_H
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

struct event_loop;
typedef void (*event_fn)(struct event_loop *loop, int fd, uint32_t events, void *ctx);
typedef void (*timer_fn)(struct event_loop *loop, void *ctx);

struct event_loop *event_loop_new(void);
void event_loop_free(struct event_loop *loop);
/* events: EPOLLIN, EPOLLOUT, EPOLLEXCLUSIVE ... ; returns 0 or -1 (errno). */
int event_add(struct event_loop *loop, int fd, uint32_t events, event_fn fn, void *ctx);
int event_mod(struct event_loop *loop, int fd, uint32_t events);
/* Forget fd (does not close it). Safe to call from inside a callback. */
void event_del(struct event_loop *loop, int fd);
/* One-shot timer after ms milliseconds; returns an id for event_timer_cancel. */
unsigned long event_timer(struct event_loop *loop, long ms, timer_fn fn, void *ctx);
void event_timer_cancel(struct event_loop *loop, unsigned long id);
/* Called about once a second while the loop runs. */
void event_set_tick(struct event_loop *loop, timer_fn fn, void *ctx);
void event_run(struct event_loop *loop);
void event_stop(struct event_loop *loop);
bool event_running(const struct event_loop *loop);
/* Milliseconds from a monotonic clock. */
long long event_now_ms(void);

#endif
