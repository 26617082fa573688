/* server.h - the libwebsockets side of the gateway: one vhost on the listen
 * address serving both the WebSocket endpoint and the HTTP API, joined to
 * the gateway's libuv loop. */
#ifndef LG_DISPATCH_SERVER_H
#define LG_DISPATCH_SERVER_H

#include "core/gateway.h"

/* Creates the lws context on gw->loop. Returns 0, or -1 (logged). */
int lg_server_start(struct lg_gateway *gw);
/* Stops accepting new connections; the open ones are served on. */
void lg_server_stop_accepting(struct lg_gateway *gw);
/* Destroys the lws context; run the loop afterwards to let it close. */
void lg_server_stop(struct lg_gateway *gw);

#endif
