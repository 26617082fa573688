/* waiter.h - async Redis replies that outlive their connection. A viewer can
 * hang up while its order is in flight; the reply then has nobody to go to.
 * Each request is a waiter linked into its owner's (session's or HTTP
 * request's) list; when the owner goes away it orphans its waiters, and the
 * reply callback sees owner == NULL and only cleans up. The waiter is
 * embedded in the request, which its reply callback owns and frees. */
#ifndef LG_CONN_WAITER_H
#define LG_CONN_WAITER_H

#include <stddef.h>

#include "livegate/list.h"

struct lg_waiter {
    struct lg_list node; /* on the owner's list while the owner lives */
    void *owner;         /* NULL once the owner is gone (or before attaching) */
};

/* list is the owner's list head, initialized with lg_list_init. */
static inline void lg_waiter_attach(struct lg_list *list, struct lg_waiter *w, void *owner)
{
    w->owner = owner;
    lg_list_insert_head(list, &w->node);
}

/* Unlinks w from its owner's list (owner stays set: the reply callback
 * still answers it); a no-op for an orphan, for a waiter never attached
 * (its node may be all zero) and for one detached already. */
static inline void lg_waiter_detach(struct lg_waiter *w)
{
    if (!w->owner)
        return;
    lg_list_remove(&w->node);
}

static inline void lg_waiter_orphan_all(struct lg_list *list)
{
    struct lg_list *q = list->next;
    while (q != list) {
        struct lg_list *next = q->next;
        struct lg_waiter *w = lg_list_entry(q, struct lg_waiter, node);
        w->owner = NULL;
        lg_list_remove(q);
        q = next;
    }
}

#endif
