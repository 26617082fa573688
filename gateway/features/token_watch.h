/* token_watch.h - a session lives no longer than its token.
 *
 * A token's exp is checked at auth, but a session can stay open for hours;
 * without this, a token that expired (or that an operator let lapse to cut
 * someone off) would keep working on a connection opened in time. Once a
 * second every ready session whose exp has passed gets error UNAUTHORIZED
 * and close 4401; the client reconnects with a fresh token. */
#ifndef LG_FEATURES_TOKEN_WATCH_H
#define LG_FEATURES_TOKEN_WATCH_H

#include "core/gateway.h"

/* Owned by the caller; NULL when out of memory. */
struct lg_token_watch *lg_token_watch_new(struct lg_gateway *gw);
void lg_token_watch_start(struct lg_token_watch *t);
/* Stops the timer and frees t once libuv has let go of it. */
void lg_token_watch_close(struct lg_token_watch *t);
/* The sweep itself, for one moment: closes the sessions whose token
 * expired at or before now_s. Returns how many it closed. */
unsigned lg_token_watch_sweep(struct lg_gateway *gw, long long now_s);

#endif
