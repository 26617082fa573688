/* rooms.c - the rooms the validator serves and the upkeep of their
 * streams. The room list comes from the registry every gateway adds to
 * (LG_KEY_ROOMS); a room seen for the first time gets the consumer group
 * on both of its priority streams. Old entries the group has answered are
 * trimmed so a long live session's memory stays flat. */
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

/* ---- trimming ------------------------------------------------------------ */

struct trim_round;

/* What the trim of one stream learns from Redis before it trims: the
 * group's last delivered id and its oldest pending one. */
struct trim_probe {
    struct trim_round *round;
    char key[LG_KEY_MAX];
    bool group_known, pending_known; /* both replies read: the trim may go ahead */
    char last_delivered[48];
    char oldest_pending[48]; /* "" when nothing is pending */
};

/* One trim of every stream: its probes' replies are counted here, inside
 * the cycle's step, and the last one sends the trims (counted in the same
 * step, so the step ends when they are answered). */
struct trim_round {
    struct lg_validator *v;
    int waiting; /* probe replies still to come, plus one while sending */
    size_t n;
    struct trim_probe probes[];
};

static void trim_answered(struct trim_round *r);

static void probe_done(struct trim_round *r)
{
    if (--r->waiting == 0)
        trim_answered(r);
}

static void parse_id(const char *id, unsigned long long *ms, unsigned long long *seq)
{
    char *end = NULL;
    *ms = strtoull(id, &end, 10);
    *seq = (end && *end == '-') ? strtoull(end + 1, NULL, 10) : 0;
}

/* Whether stream id a comes before b. */
static bool id_before(const char *a, const char *b)
{
    unsigned long long am, as, bm, bs;
    parse_id(a, &am, &as);
    parse_id(b, &bm, &bs);
    return am < bm || (am == bm && as < bs);
}

static void keep_earlier(char *minid, size_t n, const char *candidate)
{
    if (candidate[0] && id_before(candidate, minid))
        snprintf(minid, n, "%s", candidate);
}

static const char *pair_value(const redisReply *pairs, const char *name)
{
    for (size_t i = 0; pairs->type == REDIS_REPLY_ARRAY && i + 1 < pairs->elements; i += 2) {
        const redisReply *k = pairs->element[i], *val = pairs->element[i + 1];
        if (k->str && strcmp(k->str, name) == 0)
            return val->str;
    }
    return NULL;
}

/* Read before probe_done: the round may be freed there. */
static struct lg_validator *v_of(const struct trim_probe *p)
{
    return p->round->v;
}

/* XINFO GROUPS: one array of name/value pairs per group. */
static void on_groups(redisReply *reply, void *arg)
{
    struct trim_probe *p = arg;
    for (size_t i = 0; reply && reply->type == REDIS_REPLY_ARRAY && i < reply->elements; i++) {
        const char *name = pair_value(reply->element[i], "name");
        const char *last = pair_value(reply->element[i], "last-delivered-id");
        if (name && last && strcmp(name, LG_GROUP_VALIDATORS) == 0) {
            snprintf(p->last_delivered, sizeof(p->last_delivered), "%s", last);
            p->group_known = true;
        }
    }
    struct lg_validator *v = v_of(p);
    probe_done(p->round);
    lgv_step_reply(v);
}

/* XPENDING's summary: [count, smallest id, greatest id, consumers]. An
 * error (no such group) or a lost reply leaves the probe unknown: that
 * stream is not trimmed this round. */
static void on_pending(redisReply *reply, void *arg)
{
    struct trim_probe *p = arg;
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements >= 2) {
        p->pending_known = true;
        if (reply->element[0]->integer > 0 && reply->element[1]->str)
            snprintf(p->oldest_pending, sizeof(p->oldest_pending), "%s", reply->element[1]->str);
    }
    struct lg_validator *v = v_of(p);
    probe_done(p->round);
    lgv_step_reply(v);
}

/* Only what the group has both delivered and acknowledged goes: below its
 * oldest pending entry and not past its last delivered one, and older
 * than the retention. An undelivered order, or one a dead worker left
 * pending, stays until it is answered, however old. MINID "~" trims whole
 * nodes only, so it never goes past the id given. The trims are counted
 * in the cycle's step, which ends when they are answered. */
static void trim_answered(struct trim_round *r)
{
    struct lg_validator *v = r->v;
    char cut[48];
    snprintf(cut, sizeof(cut), "%lld-0", (long long)(lg_wall_ms() - v->cfg.retention_ms));
    for (size_t i = 0; i < r->n; i++) {
        struct trim_probe *p = &r->probes[i];
        if (!p->group_known || !p->pending_known)
            continue;
        char minid[48];
        snprintf(minid, sizeof(minid), "%s", cut);
        keep_earlier(minid, sizeof(minid), p->last_delivered);
        keep_earlier(minid, sizeof(minid), p->oldest_pending);
        const char *argv[] = {"XTRIM", p->key, "MINID", "~", minid};
        lgv_step_send(v, lgv_step_counted, v, LGV_ARGC(argv), argv);
    }
    free(r);
}

/* Trimming keeps a long live session's memory flat. First every stream's
 * group is asked what it has delivered and what is pending, then each
 * stream is trimmed of what is both delivered and acknowledged. Reading
 * first and trimming after is safe without a script: meanwhile the group
 * can only deliver later ids and acknowledge, which moves nothing back. */
void lgv_rooms_trim(struct lg_validator *v)
{
    lgv_step_begin(v, lgv_cycle_next);
    struct trim_round *r = calloc(1, sizeof(*r) + v->nrooms * 2 * sizeof(r->probes[0]));
    if (r) {
        r->v = v;
        r->waiting = 1;
        for (size_t i = 0; i < v->nrooms; i++) {
            for (int high = 0; high < 2; high++) {
                struct trim_probe *p = &r->probes[r->n++];
                p->round = r;
                lg_key_stream(p->key, sizeof(p->key), v->rooms[i], high);
                const char *groups[] = {"XINFO", "GROUPS", p->key};
                const char *pending[] = {"XPENDING", p->key, LG_GROUP_VALIDATORS};
                if (lgv_step_send(v, on_groups, p, LGV_ARGC(groups), groups) == 0)
                    r->waiting++;
                if (lgv_step_send(v, on_pending, p, LGV_ARGC(pending), pending) == 0)
                    r->waiting++;
            }
        }
        probe_done(r);
    }
    lgv_step_end(v);
}
