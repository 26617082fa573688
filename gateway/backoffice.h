/* backoffice.h - the back office's order handling on the event loop:
 * order.update over the WebSocket (operator and admin tokens) and
 * GET /v1/audit over HTTP (admin tokens). The rules and JSON shapes are in
 * backoffice_rules.h; the move itself is one Lua script (transition.lua). */
#ifndef LG_BACKOFFICE_H
#define LG_BACKOFFICE_H

#include <jansson.h>

#include "backoffice_rules.h"
#include "http.h"
#include "session.h"

/* Handles an order.update frame from s, whose role is not viewer (the
 * dispatcher refuses viewers). Replies on s: order.updated, or an error
 * (INVALID_FIELD, NOT_FOUND, FORBIDDEN, INVALID_TRANSITION, UNAVAILABLE). On
 * success publishes the lg:ev:status event (LG_CHAN_STATUS; every gateway
 * pushes order.status to the buyer's connections it holds, see fanout.h)
 * and, after a cancel, announces the SKU's stock through gw->sku_notifier. */
void lg_backoffice_update(struct lg_session *s, json_t *msg, const char *req);

/* Answers GET /v1/audit for a checked query (the caller has checked the
 * token is an admin's): {"entries":[...]} newest first, at most q->limit. */
void lg_backoffice_audit(struct lg_http *h, const struct lg_audit_query *q);

#endif
