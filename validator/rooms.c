/* rooms.c - the rooms the validator serves and the upkeep of their
 * streams. The rooms come from the active-room index (LG_KEY_ROOMS_ACTIVE,
 * room -> the Redis time of its last activity), which gateways mark on a
 * room's orders and on PUT of the room, and from which validators remove a
 * room only once it is idle and its streams are drained (prune.c). So the
 * validator's per-room work covers the rooms that are in use, not every
 * room ever opened, and a room that becomes active again is back within a
 * refresh. A room seen for the first time gets the consumer group on both
 * of its priority streams. The rooms are grouped by Redis Cluster slot
 * (slots.h) for reading. Old entries the group has answered are trimmed so
 * a long live session's memory stays flat. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "livegate/clock.h"
#include "livegate/log.h"
#include "livegate/strmap.h"
#include "slots.h"

static void on_group_created(redisReply *reply, void *arg)
{
    struct lg_validator *v = arg;
    if (reply && reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "BUSYGROUP", 9) != 0)
        lg_log(LG_LOG_ERROR, "validator.group_failed", json_pack("{s:s}", "detail", reply->str));
    lgv_step_reply(v);
}

/* The per-room arrays grow together. */
static int grow_rooms(struct lg_validator *v)
{
    if (v->nrooms < v->rooms_cap)
        return 0;
    size_t cap = v->rooms_cap ? v->rooms_cap * 2 : 16;
    void *rooms = realloc(v->rooms, cap * sizeof(*v->rooms));
    if (rooms)
        v->rooms = rooms;
    void *slots = realloc(v->room_slots, cap * sizeof(*v->room_slots));
    if (slots)
        v->room_slots = slots;
    void *scores = realloc(v->room_scores, cap * sizeof(*v->room_scores));
    if (scores)
        v->room_scores = scores;
    void *order = realloc(v->group_order, cap * sizeof(*v->group_order));
    if (order)
        v->group_order = order;
    void *starts = realloc(v->group_starts, (cap + 1) * sizeof(*v->group_starts));
    if (starts)
        v->group_starts = starts;
    if (!rooms || !slots || !scores || !order || !starts)
        return -1;
    v->rooms_cap = cap;
    return 0;
}

static void add_room(struct lg_validator *v, const char *room, long long score)
{
    if (grow_rooms(v) != 0)
        return;
    snprintf(v->rooms[v->nrooms], LG_ID_MAX + 1, "%s", room);
    v->room_slots[v->nrooms] = lg_slot_of_room(room);
    v->room_scores[v->nrooms] = score;
    if (v->nrooms < v->pay_cap)
        v->pay_next_ms[v->nrooms] = 0; /* a slot a dropped room left: due at once */
    v->nrooms++;
    v->groups_dirty = true;
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

/* Drops the rooms the index no longer lists (a validator pruned them once
 * drained), keeping the order of the rest. Runs in a step of its own, so
 * no reply in flight holds a room's index (pay_timeout.c's calls do). */
static void drop_unlisted(struct lg_validator *v, const struct lg_strmap *listed)
{
    size_t kept = 0;
    for (size_t i = 0; i < v->nrooms; i++) {
        if (!lg_strmap_get(listed, v->rooms[i])) {
            lg_strmap_del(v->room_set, v->rooms[i]);
            lg_log(LG_LOG_INFO, "validator.room_dropped", json_pack("{s:s}", "room", v->rooms[i]));
            v->groups_dirty = true;
            continue;
        }
        if (kept != i) {
            memcpy(v->rooms[kept], v->rooms[i], sizeof(v->rooms[i]));
            v->room_slots[kept] = v->room_slots[i];
            v->room_scores[kept] = v->room_scores[i];
            if (i < v->pay_cap) /* pay_timeout.c's per-room schedule moves along */
                v->pay_next_ms[kept] = v->pay_next_ms[i];
        }
        kept++;
    }
    v->nrooms = kept;
}

static void set_score(struct lg_validator *v, const char *room, long long score)
{
    for (size_t i = 0; i < v->nrooms; i++)
        if (strcmp(v->rooms[i], room) == 0)
            v->room_scores[i] = score;
}

/* ZRANGE ... WITHSCORES: [room, score, room, score, ...], oldest activity
 * first. A reply that is not a list changes nothing: a lost refresh must
 * not make the validator forget its rooms. The room with the newest
 * activity becomes the one the idle wait watches when it is newer than
 * what the validator last read from (read.c). */
static void on_index(redisReply *reply, void *arg)
{
    struct lg_validator *v = arg;
    struct lg_strmap *listed = lg_strmap_new();
    if (listed && reply && reply->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i + 1 < reply->elements; i += 2) {
            const char *room = reply->element[i]->str;
            const char *score_s = reply->element[i + 1]->str;
            if (!room || !score_s || !lg_text_is_id(room, strlen(room)))
                continue;
            long long score = strtoll(score_s, NULL, 10);
            lg_strmap_put(listed, room, v);
            if (!lg_strmap_get(v->room_set, room))
                add_room(v, room, score);
            else
                set_score(v, room, score);
            if (score > v->hot_score) {
                v->hot_score = score;
                snprintf(v->hot_room, sizeof(v->hot_room), "%s", room);
            }
        }
        drop_unlisted(v, listed);
    }
    lg_strmap_free(listed);
    lgv_step_reply(v);
}

/* ---- seeding the index from the registry, once ------------------------------ */

/* A deployment that ran before the index existed has rooms, maybe with
 * orders queued, only in lg:rooms. The first validator to start puts them
 * in the index with score 0 (idle since ever), NX so no real mark is
 * lowered: they are served like any room and pruned once drained. The
 * marker key makes it once per deployment, not once per start. */
static void on_registry(redisReply *reply, void *arg)
{
    struct lg_validator *v = arg;
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements) {
        const char **argv = malloc((3 + 2 * reply->elements) * sizeof(*argv));
        if (argv) {
            int argc = 0;
            argv[argc++] = "ZADD";
            argv[argc++] = LG_KEY_ROOMS_ACTIVE;
            argv[argc++] = "NX";
            for (size_t i = 0; i < reply->elements; i++) {
                const char *room = reply->element[i]->str;
                if (!room || !lg_text_is_id(room, strlen(room)))
                    continue;
                argv[argc++] = "0";
                argv[argc++] = room;
            }
            if (argc > 3)
                lgv_step_send(v, lgv_step_counted, v, argc, argv);
            free(argv);
        }
        lg_log(LG_LOG_INFO, "validator.index_seeded",
               json_pack("{s:I}", "rooms", (json_int_t)reply->elements));
    }
    lgv_step_reply(v);
}

static void on_seed_marker(redisReply *reply, void *arg)
{
    struct lg_validator *v = arg;
    if (reply && reply->type == REDIS_REPLY_STATUS) { /* OK: this validator seeds */
        const char *argv[] = {"SMEMBERS", LG_KEY_ROOMS};
        lgv_step_send(v, on_registry, v, LGV_ARGC(argv), argv);
    }
    if (reply && reply->type != REDIS_REPLY_ERROR)
        v->index_seeded = true; /* done here or by another validator */
    lgv_step_reply(v);
}

void lgv_rooms_refresh(struct lg_validator *v)
{
    lgv_step_begin(v, lgv_cycle_next);
    if (!v->index_seeded) {
        const char *set[] = {"SET", LG_KEY_ROOMS_SEEDED, "1", "NX"};
        lgv_step_send(v, on_seed_marker, v, LGV_ARGC(set), set);
    }
    const char *argv[] = {"ZRANGE", LG_KEY_ROOMS_ACTIVE, "0", "-1", "WITHSCORES"};
    lgv_step_send(v, on_index, v, LGV_ARGC(argv), argv);
    lgv_step_end(v);
}

int lgv_rooms_group(struct lg_validator *v)
{
    if (!v->groups_dirty)
        return 0;
    if (v->nrooms && (!v->group_order || !v->group_starts))
        return -1;
    v->ngroups =
        v->nrooms ? lg_slot_group(v->room_slots, v->nrooms, v->group_order, v->group_starts) : 0;
    v->groups_dirty = false;
    return 0;
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

const redisReply *lgv_pair(const redisReply *pairs, const char *name)
{
    for (size_t i = 0; pairs->type == REDIS_REPLY_ARRAY && i + 1 < pairs->elements; i += 2) {
        const redisReply *k = pairs->element[i];
        if (k->str && strcmp(k->str, name) == 0)
            return pairs->element[i + 1];
    }
    return NULL;
}

static const char *pair_value(const redisReply *pairs, const char *name)
{
    const redisReply *val = lgv_pair(pairs, name);
    return val ? val->str : NULL;
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
