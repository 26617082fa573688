/* pay_timeout_args.h - the keys and arguments of one pay_timeout.lua call,
 * built in one place for its two callers: the validators' drain of due
 * orders (validator/pay_timeout.c) and a DELETE of a room with
 * ?unpaid=cancel (gateway/features/room_delete.c). The layout is the
 * script's header; a second copy of it would drift. */
#ifndef LG_QUEUE_PAY_TIMEOUT_ARGS_H
#define LG_QUEUE_PAY_TIMEOUT_ARGS_H

#include <stdbool.h>

#include "keys.h"

struct lg_pay_timeout_args {
    /* due index, audit, totals, then the order, SKU and live key prefixes */
    char keys[6][LG_KEY_MAX];
    char batch[16], keep[16], ttl[16];
    const char *argv[12]; /* points into this struct: keep it while sending */
    int nkeys, argc;
};

/* Fills a for room: at most batch orders a call (1..1000), the audit
 * trail capped at audit_keep entries; room_deleted cancels every order of
 * the index, due or not. 0, or -1 when a key does not fit. */
int lg_pay_timeout_args(struct lg_pay_timeout_args *a, const char *room, int batch, int audit_keep,
                        bool room_deleted);

#endif
