/* ws.h - thin WebSocket glue between lws callbacks and sessions: message
 * assembly within the 16 KiB limit, the refusal of binary frames, the
 * per-address connection cap, and writing one queued frame per writeable
 * callback as lws requires. */
#ifndef LG_CONN_WS_H
#define LG_CONN_WS_H

#include <libwebsockets.h>

#include "conn/pss.h"
#include "core/gateway.h"

/* Only /v1/ws may be upgraded. Returns non-zero to refuse. */
int lg_ws_filter(struct lws *wsi);
int lg_ws_established(struct lg_gateway *gw, struct lws *wsi, struct lg_pss *pss);
int lg_ws_receive(struct lws *wsi, struct lg_pss *pss, const void *in, size_t len);
int lg_ws_writeable(struct lws *wsi, struct lg_pss *pss);
void lg_ws_closed(struct lg_gateway *gw, struct lg_pss *pss);

#endif
