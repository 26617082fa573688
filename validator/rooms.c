/* rooms.c - the rooms the validator serves and the upkeep of their
 * streams. The room list comes from the registry every gateway adds to
 * (LG_KEY_ROOMS); a room seen for the first time gets the consumer group
 * on both of its priority streams. Old entries are trimmed so a long live
 * session's memory stays flat. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "livegate/clock.h"
#include "livegate/log.h"
#include "livegate/strmap.h"

static void on_group_created(redisReply *reply, void *arg)
{
    struct lg_validator *v = arg;
    if (reply && reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "BUSYGROUP", 9) != 0)
        lg_log(LG_LOG_ERROR, "validator.group_failed", json_pack("{s:s}", "detail", reply->str));
    lgv_step_reply(v);
}

static void add_room(struct lg_validator *v, const char *room)
{
    if (v->nrooms == v->rooms_cap) {
        size_t cap = v->rooms_cap ? v->rooms_cap * 2 : 16;
        void *grown = realloc(v->rooms, cap * sizeof(*v->rooms));
        if (!grown)
            return;
        v->rooms = grown;
        v->rooms_cap = cap;
    }
    snprintf(v->rooms[v->nrooms++], LG_ID_MAX + 1, "%s", room);
    lg_strmap_put(v->room_set, room, v);
    /* Group at 0, not $: orders queued before this validator ever ran are
     * still read. MKSTREAM lets a room with no order yet be watched. */
    for (int high = 0; high < 2; high++) {
        char key[LG_KEY_MAX];
        lg_key_stream(key, sizeof(key), room, high);
        const char *argv[] = {"XGROUP", "CREATE", key, LG_GROUP_VALIDATORS, "0", "MKSTREAM"};
        lgv_step_send(v, on_group_created, v, LGV_ARGC(argv), argv);
    }
    lg_log(LG_LOG_INFO, "validator.room", json_pack("{s:s}", "room", room));
}

static void on_rooms(redisReply *reply, void *arg)
{
    struct lg_validator *v = arg;
    if (reply && reply->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < reply->elements; i++) {
            const char *room = reply->element[i]->str;
            if (room && lg_text_is_id(room, strlen(room)) && !lg_strmap_get(v->room_set, room))
                add_room(v, room);
        }
    }
    lgv_step_reply(v);
}

void lgv_rooms_refresh(struct lg_validator *v)
{
    lgv_step_begin(v, lgv_cycle_next);
    const char *argv[] = {"SMEMBERS", LG_KEY_ROOMS};
    lgv_step_send(v, on_rooms, v, LGV_ARGC(argv), argv);
    lgv_step_end(v);
}

/* Entries older than the retention are far past their 10 s deadline and
 * answered; trimming them keeps a long live session's memory flat. */
void lgv_rooms_trim(struct lg_validator *v)
{
    lgv_step_begin(v, lgv_cycle_next);
    char minid[32];
    snprintf(minid, sizeof(minid), "%lld-0", (long long)(lg_wall_ms() - v->cfg.retention_ms));
    for (size_t i = 0; i < v->nrooms; i++) {
        for (int high = 0; high < 2; high++) {
            char key[LG_KEY_MAX];
            lg_key_stream(key, sizeof(key), v->rooms[i], high);
            const char *argv[] = {"XTRIM", key, "MINID", "~", minid};
            lgv_step_send(v, lgv_step_counted, v, LGV_ARGC(argv), argv);
        }
    }
    lgv_step_end(v);
}
