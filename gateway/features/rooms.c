/* rooms.c - lg:rooms (see rooms.h). What was registered is kept in
 * gw->registered_rooms, room -> gw (a non-NULL marker). */
#include "features/rooms.h"
#include "keys.h"
#include "livegate/strmap.h"

int lg_rooms_register(struct lg_gateway *gw, const char *room, lg_redis_reply_fn fn, void *arg)
{
    const char *sadd[] = {"SADD", LG_KEY_ROOMS, room};
    return lg_redis_argv(gw->redis, fn, arg, 3, sadd, NULL);
}

/* Validators find the streams of every room through lg:rooms, including a
 * room that was never set up (its orders must still be answered
 * ROOM_CLOSED). */
void lg_rooms_register_once(struct lg_gateway *gw, const char *room)
{
    if (gw->registered_rooms && lg_strmap_get(gw->registered_rooms, room))
        return;
    if (lg_rooms_register(gw, room, lg_redis_ignore_reply, NULL) == 0 && gw->registered_rooms)
        lg_strmap_put(gw->registered_rooms, room, gw);
}

void lg_rooms_forget(struct lg_gateway *gw)
{
    lg_strmap_free(gw->registered_rooms);
    gw->registered_rooms = lg_strmap_new();
}
