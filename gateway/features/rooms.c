/* rooms.c - lg:rooms and the active-room index (see rooms.h). What was
 * registered is kept in gw->registered_rooms, room -> the second (of
 * lg_mono_ms, plus one so it is never NULL) this connection last marked
 * the room active: a hot room's every order would otherwise repeat the
 * SADD and the mark. */
#include <stdint.h>

#include "features/rooms.h"
#include "keys.h"
#include "livegate/clock.h"
#include "livegate/strmap.h"
#include "scripts.h"

/* At most one activity mark per room and connection in this long. The
 * validators' idle windows (LIVEGATE_ROOM_IDLE_MS and
 * LIVEGATE_ROOM_CLOSED_IDLE_MS, 5 s at the least) are well above it, so a
 * room taking orders never looks idle to them. */
#define TOUCH_EVERY_S 1

static int touch(struct lg_gateway *gw, const char *room)
{
    const char *args[] = {LG_KEY_ROOMS_ACTIVE, room};
    return lg_script_call(gw->redis, &lg_script_room_touch, lg_redis_ignore_reply, NULL, 1, 2, args,
                          NULL);
}

int lg_rooms_register(struct lg_gateway *gw, const char *room, lg_redis_reply_fn fn, void *arg)
{
    touch(gw, room);
    const char *sadd[] = {"SADD", LG_KEY_ROOMS, room};
    return lg_redis_argv(gw->redis, fn, arg, 3, sadd, NULL);
}

/* Validators find the streams of every room in use through the active
 * index, including a room that was never set up (its orders must still be
 * answered ROOM_CLOSED). Sent before the order's enqueue on the same
 * connection, so the room is marked no later than the order exists. */
void lg_rooms_note_order(struct lg_gateway *gw, const char *room)
{
    intptr_t now_s = (intptr_t)(lg_mono_ms() / 1000) + 1;
    intptr_t marked_s =
        gw->registered_rooms ? (intptr_t)lg_strmap_get(gw->registered_rooms, room) : 0;
    if (marked_s && now_s - marked_s < TOUCH_EVERY_S)
        return;
    if (!marked_s) {
        const char *sadd[] = {"SADD", LG_KEY_ROOMS, room};
        lg_redis_argv(gw->redis, lg_redis_ignore_reply, NULL, 3, sadd, NULL);
    }
    if (touch(gw, room) == 0 && gw->registered_rooms)
        lg_strmap_put(gw->registered_rooms, room, (void *)now_s);
}

void lg_rooms_forget(struct lg_gateway *gw)
{
    lg_strmap_free(gw->registered_rooms);
    gw->registered_rooms = lg_strmap_new();
}
