/* intake.h - the path from a checked order to order.accepted: seal the
 * personal data, run the dedup+enqueue script, and answer only after Redis
 * has confirmed the write. The submits of one room that arrive in one loop
 * turn, from any connections, go to Redis as one script call (DESIGN.md,
 * principle 9); each still gets its own answer. */
#ifndef LG_FEATURES_INTAKE_H
#define LG_FEATURES_INTAKE_H

#include "rules/order_rules.h"
#include "conn/session.h"

/* A room's batch is sent as soon as it holds this many orders, without
 * waiting for the end of the loop turn. */
#define LG_INTAKE_BATCH_MAX 256

/* The batches of this process, waiting for the end of the loop turn. */
struct lg_intake;

/* gw->loop must be set. NULL when out of memory. */
struct lg_intake *lg_intake_new(struct lg_gateway *gw);
/* Sends what waits, then frees in once its libuv handle is closed; keep
 * running the loop until then. Call before the Redis connection closes. */
void lg_intake_close(struct lg_intake *in);

/* o has passed lg_order_parse. Replies on s: order.accepted (new or
 * duplicate), IDEMPOTENCY_CONFLICT, or UNAVAILABLE, once the batch s's
 * order joins has been answered. */
void lg_intake_submit(struct lg_session *s, const struct lg_order *o, const char *req);
/* A new order id for an order of room (rules/order_id.h says its shape).
 * Returns true when the id names the room, false when the order needs its
 * order-id index. */
bool lg_intake_new_order_id(char out[LG_ID_MAX + 1], const char *room);

#endif
