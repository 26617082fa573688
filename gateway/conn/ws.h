/* ws.h - thin WebSocket glue between lws callbacks and sessions: message
 * assembly within the 16 KiB limit, the refusal of binary frames, the
 * per-address connection cap, and writing a session's queued frames, as
 * many as LG_WS_WRITE_MAX bytes of them, in one write at the end of the
 * loop turn, or per writeable callback when the socket was full
 * (principle 9: one write per connection per turn). */
#ifndef LG_CONN_WS_H
#define LG_CONN_WS_H

#include <libwebsockets.h>

#include "conn/pss.h"
#include "core/gateway.h"

/* The most bytes of framed messages one writeable callback writes. Not the
 * whole queue of a slow client (up to LG_SESSION_MAX_QUEUED_BYTES): what
 * the kernel does not take, lws copies into its own buffer, outside the
 * session's cap; 64 KiB is about what a loopback or LAN socket takes at
 * once. server.c lets lws hand that much to one send(). */
#define LG_WS_WRITE_MAX (64u * 1024)

/* Only /v1/ws may be upgraded. Returns non-zero to refuse. */
int lg_ws_filter(struct lws *wsi);
int lg_ws_established(struct lg_gateway *gw, struct lws *wsi, struct lg_pss *pss);
int lg_ws_receive(struct lws *wsi, struct lg_pss *pss, const void *in, size_t len);
int lg_ws_writeable(struct lws *wsi, struct lg_pss *pss);
void lg_ws_closed(struct lg_gateway *gw, struct lg_pss *pss);

/* Set up and take down the end-of-turn write: every loop turn, after the
 * I/O callbacks, the sessions on gw->write_soon (lg_session_write_soon)
 * are written straight to their sockets (see session.h). */
void lg_ws_write_soon_init(struct lg_gateway *gw);
void lg_ws_write_soon_close(struct lg_gateway *gw);

#endif
