/* dispatch.h - what a WebSocket message means. The contract fixes the order
 * of things: a connection must authenticate first, within 5 s; until then
 * any other frame is UNAUTHORIZED and closes with 4401. Afterwards each
 * message goes by its type, through one table of {type, lowest role,
 * handler}, to the feature that handles it. This sits on top of the
 * features and installs itself into the connection layer as its hooks, so
 * the connections never call up by name. */
#ifndef LG_DISPATCH_DISPATCH_H
#define LG_DISPATCH_DISPATCH_H

#include "core/gateway.h"

/* Installs the session hooks (messages, closes) on gw; call once before
 * the server accepts connections. */
void lg_dispatch_install(struct lg_gateway *gw);

#endif
