/* list.h - intrusive doubly linked lists, for the daemons' lists of sessions, clients and
 * active messages. The element type carries its own links, two members named prev and
 * next (NULL at the ends); the list is a DLIST_HEAD holding the first and last element,
 * so insertion at either end and removal are O(1) and a zeroed head (xcalloc, = {0}) is an
 * empty list. The list owns nothing: freeing elements stays with the caller.
 *
 * These are macros so any struct can be linked without casts; arguments may be evaluated
 * more than once, so pass plain names, not expressions with side effects. An element is
 * in at most one list through one pair of links at a time; not thread-safe. */
#ifndef POSTHORN_LIST_H
#define POSTHORN_LIST_H
#include <stddef.h>

#define DLIST_HEAD(type) struct { type *first, *last; }

#define DLIST_FIRST(head) ((head)->first)
#define DLIST_LAST(head) ((head)->last)
#define DLIST_EMPTY(head) ((head)->first == NULL)

#define DLIST_INSERT_HEAD(head, elm)                                                          \
    do {                                                                                      \
        (elm)->prev = NULL;                                                                   \
        (elm)->next = (head)->first;                                                          \
        if ((head)->first)                                                                    \
            (head)->first->prev = (elm);                                                      \
        else                                                                                  \
            (head)->last = (elm);                                                             \
        (head)->first = (elm);                                                                \
    } while (0)

#define DLIST_INSERT_TAIL(head, elm)                                                          \
    do {                                                                                      \
        (elm)->next = NULL;                                                                   \
        (elm)->prev = (head)->last;                                                           \
        if ((head)->last)                                                                     \
            (head)->last->next = (elm);                                                       \
        else                                                                                  \
            (head)->first = (elm);                                                            \
        (head)->last = (elm);                                                                 \
    } while (0)

/* Unlink elm from head (it must be in it); its links are cleared. */
#define DLIST_REMOVE(head, elm)                                                               \
    do {                                                                                      \
        if ((elm)->prev)                                                                      \
            (elm)->prev->next = (elm)->next;                                                  \
        else                                                                                  \
            (head)->first = (elm)->next;                                                      \
        if ((elm)->next)                                                                      \
            (elm)->next->prev = (elm)->prev;                                                  \
        else                                                                                  \
            (head)->last = (elm)->prev;                                                       \
        (elm)->prev = (elm)->next = NULL;                                                     \
    } while (0)

#define DLIST_FOREACH(var, head) for ((var) = (head)->first; (var); (var) = (var)->next)

/* Iterate where the body may remove (and free) var, but no other element: tmp holds the
 * next element, read before the body runs. */
#define DLIST_FOREACH_SAFE(var, head, tmp)                                                    \
    for ((var) = (head)->first; (var) && ((tmp) = (var)->next, 1); (var) = (tmp))

#endif
