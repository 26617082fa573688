/* waiter.h - async Redis replies that outlive their connection. A viewer can
 * hang up while its order is in flight; the reply then has nobody to go to.
 * Each request is a waiter linked into its owner's (session's or HTTP
 * request's) list; when the owner goes away it orphans its waiters, and the
 * reply callback sees owner == NULL and only cleans up. */
#ifndef LG_WAITER_H
#define LG_WAITER_H

#include <stddef.h>

/* What a waiter waits for, where another module needs to find it. */
enum lg_waiter_kind { LG_WAITER_OTHER = 0, LG_WAITER_ENQUEUE };

struct lg_waiter {
    struct lg_waiter *prev, *next;
    void *owner; /* NULL once the owner is gone */
    enum lg_waiter_kind kind;
};

static inline void lg_waiter_attach(struct lg_waiter **list, struct lg_waiter *w, void *owner)
{
    w->owner = owner;
    w->prev = NULL;
    w->next = *list;
    if (*list)
        (*list)->prev = w;
    *list = w;
}

/* Unlinks w from its owner's list; a no-op for an orphan. */
static inline void lg_waiter_detach(struct lg_waiter **list, struct lg_waiter *w)
{
    if (!w->owner)
        return;
    if (w->prev)
        w->prev->next = w->next;
    else
        *list = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
}

static inline void lg_waiter_orphan_all(struct lg_waiter **list)
{
    struct lg_waiter *w = *list;
    while (w) {
        struct lg_waiter *next = w->next;
        w->owner = NULL;
        w->prev = w->next = NULL;
        w = next;
    }
    *list = NULL;
}

#endif
