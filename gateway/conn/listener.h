/* listener.h - the gateway's listening socket. libwebsockets 4.1 binds its
 * listen sockets exclusively, but a gateway must share its port with its
 * sibling processes (SO_REUSEPORT, the kernel spreading connections over
 * them). So the gateway owns the listening socket on its libuv loop and
 * hands each accepted connection to lws, which serves it like one of its
 * own (HTTP, WebSocket upgrade, TLS). Owning it also lets a stopping
 * gateway stop accepting while it finishes the connections it has. */
#ifndef LG_CONN_LISTENER_H
#define LG_CONN_LISTENER_H

#include "core/gateway.h"

/* Binds and listens on the configured address. Returns 0, or -1 (logged). */
int lg_listener_start(struct lg_gateway *gw);
/* Stops accepting and closes the socket; established connections stay. */
void lg_listener_stop(struct lg_gateway *gw);

#endif
