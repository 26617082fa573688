/* query.h - order.query: the caller's own orders by client_order_id, as
 * order.state messages in the order asked. Looking orders up through the
 * caller's idempotency keys is what makes "own orders only" hold: another
 * user's client_order_id simply is not there and answers "unknown". */
#ifndef LG_FEATURES_QUERY_H
#define LG_FEATURES_QUERY_H

#include <jansson.h>

#include "conn/session.h"

#define LG_QUERY_MAX_IDS 100

void lg_query_orders(struct lg_session *s, json_t *msg, const char *req);

#endif
