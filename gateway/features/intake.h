/* intake.h - the path from a checked order to order.accepted: seal the
 * personal data, run the dedup+enqueue script, and answer only after Redis
 * has confirmed the write. */
#ifndef LG_FEATURES_INTAKE_H
#define LG_FEATURES_INTAKE_H

#include "rules/order_rules.h"
#include "conn/session.h"

/* o has passed lg_order_parse. Replies on s: order.accepted (new or
 * duplicate), IDEMPOTENCY_CONFLICT, or UNAVAILABLE. */
void lg_intake_submit(struct lg_session *s, const struct lg_order *o, const char *req);
/* A new order id: "o-" + milliseconds in base 36 + 12 random hex digits.
 * Sortable by time and unique across gateways without coordination. */
void lg_intake_new_order_id(char out[32]);

#endif
