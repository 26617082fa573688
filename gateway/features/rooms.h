/* rooms.h - the registry of rooms in lg:rooms, which validators (and the
 * "*" statistics) walk to find every room's streams. Both the API's PUT of
 * a room and the first order of a room on this gateway put it there; this
 * module is the one place that writes lg:rooms and remembers what this
 * process has written. */
#ifndef LG_FEATURES_ROOMS_H
#define LG_FEATURES_ROOMS_H

#include "core/gateway.h"

/* Adds room to lg:rooms; fn hears Redis's answer (lg_redis_ignore_reply
 * when nobody needs it). Returns what lg_redis_argv returns: 0 when sent. */
int lg_rooms_register(struct lg_gateway *gw, const char *room, lg_redis_reply_fn fn, void *arg);

/* As lg_rooms_register, at most once per room per Redis connection: a hot
 * room's every order would otherwise repeat the SADD. */
void lg_rooms_register_once(struct lg_gateway *gw, const char *room);

/* Forgets what this process has registered; called when the Redis
 * connection comes back, since Redis may have lost it. */
void lg_rooms_forget(struct lg_gateway *gw);

#endif
