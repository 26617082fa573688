/* list.h - the one intrusive doubly-linked list every module uses, in the
 * spirit of libuv's queue.h. A list is a circular ring through a head node;
 * an element embeds a struct lg_list and is found back from it with
 * lg_list_entry. Nothing here allocates: whoever owns the element owns its
 * memory, and a node must be removed from its list before it is freed.
 *
 * A node that is not on any list points at itself (lg_list_init), so
 * lg_list_linked tells whether it is on one and lg_list_remove is safe to
 * call twice. Walk a list with a plain for loop:
 *
 *     for (struct lg_list *q = head.next; q != &head; q = q->next) ...
 *
 * and keep q->next before the body when the body may remove q. */
#ifndef LG_LIVEGATE_LIST_H
#define LG_LIVEGATE_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct lg_list {
    struct lg_list *next, *prev;
};

/* The element of type that holds the node ptr in its field member. */
#define lg_list_entry(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

static inline void lg_list_init(struct lg_list *node)
{
    node->next = node->prev = node;
}

static inline bool lg_list_empty(const struct lg_list *head)
{
    return head->next == head;
}

/* For an element node: whether it is on a list (initialized nodes only). */
static inline bool lg_list_linked(const struct lg_list *node)
{
    return node->next != node;
}

/* The first node, or NULL for an empty list. */
static inline struct lg_list *lg_list_first(const struct lg_list *head)
{
    return head->next == head ? NULL : head->next;
}

/* The node after node on the list headed by head, or NULL at the end. */
static inline struct lg_list *lg_list_next(const struct lg_list *head, const struct lg_list *node)
{
    return node->next == head ? NULL : node->next;
}

static inline void lg_list_insert_after(struct lg_list *at, struct lg_list *node)
{
    node->prev = at;
    node->next = at->next;
    at->next->prev = node;
    at->next = node;
}

static inline void lg_list_insert_head(struct lg_list *head, struct lg_list *node)
{
    lg_list_insert_after(head, node);
}

static inline void lg_list_insert_tail(struct lg_list *head, struct lg_list *node)
{
    lg_list_insert_after(head->prev, node);
}

/* Unlinks node and leaves it initialized; a no-op for an unlinked node. */
static inline void lg_list_remove(struct lg_list *node)
{
    node->prev->next = node->next;
    node->next->prev = node->prev;
    lg_list_init(node);
}

#endif
