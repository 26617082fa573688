/* sku_notify.h - telling every gateway that a SKU changed, without flooding
 * them. Whoever changes a SKU's stock, price or sale state (the validator on
 * a confirmation, the gateway on PUT .../skus/{sku}, the back office when a
 * cancel gives stock back) calls lg_sku_notifier_touch; sku_notify.lua then
 * publishes the SKU's state on lg:ev:sku at most once a second per SKU
 * across all processes, and at once when it is sold out or off sale.
 *
 * A touch that finds the gate closed leaves the SKU dirty in this process,
 * which calls the script again when the gate opens, until a publish carries
 * a state at least as new as its change. */
#ifndef LG_QUEUE_SKU_NOTIFY_H
#define LG_QUEUE_SKU_NOTIFY_H

#include <stdbool.h>
#include <uv.h>

#include "redis_conn.h"

/* How long the gate stays closed after a publish. */
#define LG_SKU_NOTIFY_GATE_MS 1000

struct lg_sku_notifier;

/* Publishes through r (an ordinary connection, borrowed: it must outlive the
 * notifier's last callback, see lg_sku_notifier_free). */
struct lg_sku_notifier *lg_sku_notifier_new(uv_loop_t *loop, struct lg_redis *r);

/* The SKU changed. urgent: the caller knows it sold out or went off sale, so
 * the script is called now even if this process is already waiting on the
 * gate for this SKU. (The script itself decides what bypasses the gate, from
 * the SKU's state.) Never blocks; a SKU that cannot be announced now (Redis
 * down) is retried. */
void lg_sku_notifier_touch(struct lg_sku_notifier *n, const char *room, const char *sku_id,
                           bool urgent);

/* Forgets the dirty SKUs and frees n once the calls in flight are answered
 * (closing the connection answers them); keep running the loop until then. */
void lg_sku_notifier_free(struct lg_sku_notifier *n);

#endif
