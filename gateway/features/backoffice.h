/* backoffice.h - the back office's order handling on the event loop:
 * order.update over the WebSocket (operator and admin tokens). The rules
 * and JSON shapes, including the audit trail's that api.c serves at
 * GET /v1/audit, are in backoffice_rules.h; the move itself is one Lua
 * script (transition.lua). */
#ifndef LG_FEATURES_BACKOFFICE_H
#define LG_FEATURES_BACKOFFICE_H

#include <jansson.h>

#include "rules/backoffice_rules.h"
#include "conn/session.h"

/* Handles an order.update frame from s, whose role is not viewer (the
 * dispatcher refuses viewers). Replies on s: order.updated, or an error
 * (INVALID_FIELD, NOT_FOUND, FORBIDDEN, INVALID_TRANSITION, UNAVAILABLE). On
 * success publishes the lg:ev:status event (LG_CHAN_STATUS; every gateway
 * pushes order.status to the buyer's connections it holds, see fanout.h)
 * and, after a cancel, announces the SKU's stock through gw->sku_notifier. */
void lg_backoffice_update(struct lg_session *s, json_t *msg, const char *req);

#endif
