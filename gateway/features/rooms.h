/* rooms.h - the registry of rooms in lg:rooms, and the active-room index
 * (lg:rooms:active, room -> last activity) which validators (and the "*"
 * statistics) walk to find the streams of the rooms in use. Both the API's
 * PUT of a room and the orders of a room on this gateway put it there;
 * this module is the one place that writes them and remembers what this
 * process has written. */
#ifndef LG_FEATURES_ROOMS_H
#define LG_FEATURES_ROOMS_H

#include "core/gateway.h"

/* Adds room to lg:rooms and marks it active; fn hears Redis's answer to
 * the SADD (lg_redis_ignore_reply when nobody needs it). Returns what
 * lg_redis_argv returns: 0 when sent. */
int lg_rooms_register(struct lg_gateway *gw, const char *room, lg_redis_reply_fn fn, void *arg);

/* Before an order of room is queued: lg:rooms once per Redis connection,
 * the activity mark at most once a second. */
void lg_rooms_note_order(struct lg_gateway *gw, const char *room);

/* Forgets what this process has registered; called when the Redis
 * connection comes back, since Redis may have lost it. */
void lg_rooms_forget(struct lg_gateway *gw);

#endif
