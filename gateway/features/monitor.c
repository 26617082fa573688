/* monitor.c - the monitor channel on one gateway (see monitor.h).
 *
 * Subscriptions are grouped by room ("*" is a group of its own). Once a
 * second each group's figures are read from Redis once (for "*": the rooms
 * of the active-room index lg:rooms:active, merged), the monitor.stats frame is built once, and
 * every monitor of the group gets a copy with its own feed_dropped count. A monitor's first frame
 * is read for it alone, so it comes at once and carries the subscribe's req.
 *
 * Reads in flight hold the group's name, not a pointer, so a group that
 * emptied meanwhile is simply not found; a first read is a waiter of its
 * session, orphaned if the session closes.
 *
 * The feed is paid for only while watched: while a group exists this
 * gateway keeps lg:{room}:feed:watched alive (PX WATCHED_TTL_MS, refreshed
 * every tick; for "*" the key of every room in lg:rooms:active), and enqueue.lua
 * and validate.lua publish only while it exists. The key of a room group is
 * set when the group is made, on the same connection and before the
 * subscribe's first monitor.stats is read, so every script call that runs
 * after the subscribe is answered publishes. A "*" group's keys follow one
 * ZRANGE round trip later (also before the first frame's own reads, which
 * start with the index too), and a room first active afterwards is
 * covered from the next tick: at most TICK_MS of its orders go unseen. When
 * the last monitor leaves the key is left to expire (another gateway may
 * still watch the room), so publishing stops within WATCHED_TTL_MS.
 *
 * A feed message is one JSON array per script call (one object per order);
 * each element is gated and sent as a monitor.order of its own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "features/bus.h"
#include "keys.h"
#include "livegate/clock.h"
#include "livegate/list.h"
#include "livegate/log.h"
#include "features/monitor.h"
#include "rules/event_peek.h"
#include "rules/monitor_frames.h"
#include "rules/protocol.h"
#include "conn/session.h"
#include "stats.h"

#define TICK_MS 1000
/* A monitor whose last frame is younger than this skips a tick, so the
 * first periodic frame does not follow the first frame immediately. */
#define MIN_GAP_MS 500
/* Rooms a "*" monitor covers, at most (newest activity first). */
#define ALL_MAX_ROOMS 500
/* Life of a presence key: three ticks, so one late or lost refresh does
 * not silence the feed. */
#define WATCHED_TTL_MS "3000"

struct lg_monitor_group;

struct lg_monitor_sub {
    struct lg_session *s;
    struct lg_monitor_group *group;
    struct lg_list node; /* on group->subs */
    struct lg_monframe_gate gate;
    int64_t last_stats_ms;
};

struct lg_monitor_group {
    char room[LG_ID_MAX + 1]; /* or "*" */
    struct lg_list subs;      /* struct lg_monitor_sub */
    bool reading;             /* this tick's read is still in flight */
    struct lg_list node;      /* on lg_monitors.group_list */
};

struct lg_monitors {
    struct lg_gateway *gw;
    uv_timer_t timer;
    struct lg_strmap *groups;  /* room -> group */
    struct lg_list group_list; /* the same groups, for the tick */
};

static bool is_all(const char *room)
{
    return strcmp(room, "*") == 0;
}

/* ---- sending ------------------------------------------------------------- */

static void send_stats_text(struct lg_monitor_sub *sub, const char *text, size_t len)
{
    size_t n;
    char *framed = lg_monframe_splice(text, len, "feed_dropped", sub->gate.dropped_total, true, &n);
    if (!framed)
        return;
    if (lg_session_send_text(sub->s, framed, n, LG_MONITOR_STATS_MAX_QUEUED) == 0)
        sub->last_stats_ms = lg_mono_ms();
    free(framed);
}

static char *dump(json_t *msg, size_t *len)
{
    char *text = msg ? json_dumps(msg, LG_MONITOR_DUMP_FLAGS) : NULL;
    json_decref(msg);
    if (text)
        *len = strlen(text);
    return text;
}

static void broadcast_stats(struct lg_monitors *m, const char *room, const struct lg_stats_view *v)
{
    struct lg_monitor_group *g = lg_strmap_get(m->groups, room);
    if (!g)
        return;
    g->reading = false;
    if (!v)
        return; /* Redis failed: skip this second */
    size_t len;
    char *text = dump(lg_monframe_stats(room, lg_wall_ms(), v, NULL), &len);
    if (!text)
        return;
    int64_t now = lg_mono_ms();
    for (struct lg_list *q = g->subs.next; q != &g->subs; q = q->next) {
        struct lg_monitor_sub *sub = lg_list_entry(q, struct lg_monitor_sub, node);
        if (now - sub->last_stats_ms >= MIN_GAP_MS)
            send_stats_text(sub, text, len);
    }
    free(text);
}

/* ---- reading: one room, or every room for "*" ------------------------------ */

struct stats_job {
    struct lg_waiter w; /* first frames only: owner is the session */
    struct lg_monitors *m;
    bool first;
    char room[LG_ID_MAX + 1];
    char req[LG_ID_MAX + 1];
    bool has_req;
};

static void job_done(const struct lg_stats_view *v, void *arg)
{
    struct stats_job *job = arg;
    if (!job->first) {
        broadcast_stats(job->m, job->room, v);
        free(job);
        return;
    }
    struct lg_session *s = job->w.owner;
    if (s) {
        lg_waiter_detach(&job->w);
        const char *req = job->has_req ? job->req : NULL;
        if (!v) {
            lg_session_send(
                s, lg_msg_error("UNAVAILABLE", "the statistics cannot be read; retry", req, NULL));
        } else if (s->monitor) {
            size_t len;
            char *text = dump(lg_monframe_stats(job->room, lg_wall_ms(), v, req), &len);
            if (text)
                send_stats_text(s->monitor, text, len);
            free(text);
        }
    }
    free(job);
}

/* Reads room's figures ("*": every room's, merged) and answers through
 * job_done, at once when nothing could be sent (Redis down). */
static void run_job(struct stats_job *job)
{
    if (lg_stats_read_rooms(job->m->gw->redis, job->room, ALL_MAX_ROOMS, true, job_done, job) != 0)
        job_done(NULL, job);
}

static struct stats_job *new_job(struct lg_monitors *m, const char *room, bool first)
{
    struct stats_job *job = calloc(1, sizeof(*job));
    if (!job)
        return NULL;
    job->m = m;
    job->first = first;
    snprintf(job->room, sizeof(job->room), "%s", room);
    return job;
}

/* ---- presence: lg:{room}:feed:watched ------------------------------------------- */

static void mark_watched(struct lg_redis *r, const char *room)
{
    char key[LG_KEY_MAX];
    if (lg_key_feed_watched(key, sizeof(key), room) < 0)
        return;
    const char *argv[] = {"SET", key, "1", "PX", WATCHED_TTL_MS};
    lg_redis_argv(r, lg_redis_ignore_reply, NULL, 5, argv, NULL);
}

/* Every room's key, for a "*" group; the list is read afresh each time. */
static void on_rooms_listed(redisReply *reply, void *arg)
{
    struct lg_monitors *m = arg;
    if (!reply || reply->type != REDIS_REPLY_ARRAY)
        return;
    for (size_t i = 0; i < reply->elements && i < ALL_MAX_ROOMS; i++) {
        redisReply *e = reply->element[i];
        if (e->type == REDIS_REPLY_STRING && lg_text_is_id(e->str, e->len))
            mark_watched(m->gw->redis, e->str);
    }
}

static void refresh_watched(struct lg_monitors *m, const struct lg_monitor_group *g)
{
    if (!is_all(g->room)) {
        mark_watched(m->gw->redis, g->room);
        return;
    }
    /* the rooms in use, newest activity first: the same ones the "*"
     * statistics read (queue/stats.c), and an idle room costs nothing */
    char last[16];
    snprintf(last, sizeof(last), "%d", ALL_MAX_ROOMS - 1);
    const char *argv[] = {"ZRANGE", LG_KEY_ROOMS_ACTIVE, "0", last, "REV"};
    lg_redis_argv(m->gw->redis, on_rooms_listed, m, 5, argv, NULL);
}

/* ---- the tick ------------------------------------------------------------------ */

static void on_tick(uv_timer_t *t)
{
    struct lg_monitors *m = t->data;
    for (struct lg_list *q = m->group_list.next; q != &m->group_list; q = q->next) {
        struct lg_monitor_group *g = lg_list_entry(q, struct lg_monitor_group, node);
        if (lg_list_empty(&g->subs))
            continue;
        refresh_watched(m, g);
        if (g->reading)
            continue;
        struct stats_job *job = new_job(m, g->room, false);
        if (!job)
            continue;
        g->reading = true;
        run_job(job); /* may finish at once (Redis down), clearing reading */
    }
}

/* ---- subscriptions -------------------------------------------------------------- */

/* Bus callbacks. A room's own channel feeds that room's monitors and the
 * pattern feeds "*" monitors, so a gateway with both never sends one event
 * twice to anybody. Status changes feed both. */
static void on_feed_room(const char *channel, const char *payload, size_t len, void *arg)
{
    (void)channel;
    lg_monitor_deliver(arg, payload, len, true, false);
}

static void on_feed_all(const char *channel, const char *payload, size_t len, void *arg)
{
    (void)channel;
    lg_monitor_deliver(arg, payload, len, false, true);
}

/* Every order.update of every room comes here while any group exists; the
 * ones of rooms nobody here watches are peeked at, not parsed. */
static void on_status(const char *channel, const char *payload, size_t len, void *arg)
{
    (void)channel;
    struct lg_monitors *m = arg;
    char room[LG_ID_MAX + 1];
    if (lg_event_peek(payload, len, "room", room, sizeof(room)) == 0 &&
        !lg_strmap_get(m->groups, room) && !lg_strmap_get(m->groups, "*"))
        return;
    lg_monitor_deliver(m, payload, len, true, true);
}

/* While a group exists this gateway listens to its room's feed ("*": every
 * room's) and to the status changes (the bus counts references). */
static void feed_watch(struct lg_monitors *m, const char *room, bool on)
{
    struct lg_bus *bus = m->gw->bus;
    char channel[LG_KEY_MAX];
    lg_bus_fn fn = is_all(room) ? on_feed_all : on_feed_room;
    if (!bus)
        return;
    /* "*" names the pattern channel lg:ev:feed:*, which the bus PSUBSCRIBEs. */
    if (lg_chan_feed(channel, sizeof(channel), room) < 0)
        return;
    if (on) {
        lg_bus_subscribe(bus, channel, fn, m);
        lg_bus_subscribe(bus, LG_CHAN_STATUS, on_status, m);
    } else {
        lg_bus_unsubscribe(bus, channel, fn, m);
        lg_bus_unsubscribe(bus, LG_CHAN_STATUS, on_status, m);
    }
}

static struct lg_monitor_group *group_get(struct lg_monitors *m, const char *room)
{
    struct lg_monitor_group *g = lg_strmap_get(m->groups, room);
    if (g)
        return g;
    g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    snprintf(g->room, sizeof(g->room), "%s", room);
    lg_list_init(&g->subs);
    if (lg_strmap_put(m->groups, g->room, g) != 0) {
        free(g);
        return NULL;
    }
    lg_list_insert_head(&m->group_list, &g->node);
    feed_watch(m, g->room, true);
    refresh_watched(m, g);
    return g;
}

static void group_drop_if_empty(struct lg_monitors *m, struct lg_monitor_group *g)
{
    if (!lg_list_empty(&g->subs))
        return;
    feed_watch(m, g->room, false);
    lg_list_remove(&g->node);
    lg_strmap_del(m->groups, g->room);
    free(g);
}

static void unsubscribe(struct lg_session *s)
{
    struct lg_monitor_sub *sub = s->monitor;
    if (!sub)
        return;
    struct lg_monitors *m = s->gw->monitors;
    struct lg_monitor_group *g = sub->group;
    lg_list_remove(&sub->node);
    s->monitor = NULL;
    s->gw->n_monitors--;
    free(sub);
    group_drop_if_empty(m, g);
}

void lg_monitor_session_gone(struct lg_session *s)
{
    if (s->gw->monitors)
        unsubscribe(s);
}

/* Operators see their own room (an operator token for "*" may pick any
 * one room); only admins may watch "*". */
static bool may_watch(const struct lg_claims *c, const char *room)
{
    if (c->role == LG_ROLE_ADMIN)
        return true;
    if (c->role != LG_ROLE_OPERATOR || is_all(room))
        return false;
    return is_all(c->room) || strcmp(c->room, room) == 0;
}

void lg_monitor_subscribe(struct lg_session *s, json_t *root, const char *req)
{
    struct lg_monitors *m = s->gw->monitors;
    json_t *jroom = json_object_get(root, "room_id");
    const char *room = json_is_string(jroom) ? json_string_value(jroom) : NULL;
    if (!room || !(is_all(room) || lg_text_is_id(room, strlen(room)))) {
        lg_session_send(
            s, lg_msg_error("BAD_REQUEST", "room_id must be a room id or \"*\"", req, NULL));
        return;
    }
    if (!may_watch(&s->claims, room)) {
        lg_session_send(s, lg_msg_error("FORBIDDEN",
                                        is_all(room) ? "only admin tokens may watch every room"
                                                     : "the token is for another room",
                                        req, NULL));
        return;
    }
    if (!m || !lg_redis_is_up(s->gw->redis)) {
        lg_session_send(
            s, lg_msg_error("UNAVAILABLE", "the statistics cannot be read; retry", req, NULL));
        return;
    }
    /* A second subscribe replaces the first (the same room again keeps it,
     * so the feed subscription has no gap); the feed-drop count survives. */
    if (!s->monitor || strcmp(s->monitor->group->room, room) != 0) {
        struct lg_monframe_gate gate = {0};
        if (s->monitor)
            gate = s->monitor->gate;
        unsubscribe(s);
        struct lg_monitor_group *g = group_get(m, room);
        struct lg_monitor_sub *sub = calloc(1, sizeof(*sub));
        if (!g || !sub) {
            free(sub);
            if (g)
                group_drop_if_empty(m, g);
            lg_session_send(s, lg_msg_error("UNAVAILABLE", "out of memory; retry", req, NULL));
            return;
        }
        sub->s = s;
        sub->group = g;
        sub->gate = gate;
        lg_list_insert_head(&g->subs, &sub->node);
        s->monitor = sub;
        s->gw->n_monitors++;
    }

    struct stats_job *job = new_job(m, room, true);
    if (!job)
        return;
    if (req) {
        snprintf(job->req, sizeof(job->req), "%s", req);
        job->has_req = true;
    }
    lg_waiter_attach(&s->waiters, &job->w, s);
    run_job(job);
}

/* ---- the feed ---------------------------------------------------------------------- */

static void send_feed(struct lg_monitor_group *g, const char *text, size_t len, int64_t now)
{
    if (!g)
        return;
    for (struct lg_list *q = g->subs.next; q != &g->subs; q = q->next) {
        struct lg_monitor_sub *sub = lg_list_entry(q, struct lg_monitor_sub, node);
        if (!lg_monframe_gate_admit(&sub->gate, now,
                                    (unsigned)sub->s->gw->cfg.monitor_feed_per_s)) {
            sub->s->gw->counters[LG_CTR_FEED_DROPPED]++;
            continue;
        }
        size_t n;
        char *framed =
            lg_monframe_splice(text, len, "dropped", sub->gate.dropped_since_sent, false, &n);
        if (framed && lg_session_send_text(sub->s, framed, n, LG_MONITOR_FEED_MAX_QUEUED) == 0) {
            lg_monframe_gate_sent(&sub->gate);
        } else {
            lg_monframe_gate_drop(&sub->gate);
            sub->s->gw->counters[LG_CTR_FEED_DROPPED]++;
        }
        free(framed);
    }
}

/* One event (an object) to its listeners here, as a monitor.order. */
static void deliver_event(struct lg_monitors *m, json_t *event, bool to_room, bool to_all)
{
    /* Find the listeners first: most events are of rooms nobody here watches. */
    const char *room = json_string_value(json_object_get(event, "room"));
    if (!room)
        room = json_string_value(json_object_get(event, "room_id"));
    struct lg_monitor_group *g_room = to_room && room ? lg_strmap_get(m->groups, room) : NULL;
    struct lg_monitor_group *g_all = to_all ? lg_strmap_get(m->groups, "*") : NULL;
    json_t *msg = json_is_object(event) && (g_room || g_all) ? lg_monframe_order(event) : NULL;
    if (!msg)
        return;
    size_t n;
    char *text = dump(msg, &n);
    if (!text)
        return;
    int64_t now = lg_mono_ms();
    send_feed(g_room, text, n, now);
    send_feed(g_all, text, n, now);
    free(text);
}

void lg_monitor_deliver(struct lg_monitors *m, const char *payload, size_t len, bool to_room,
                        bool to_all)
{
    if (!m || lg_list_empty(&m->group_list))
        return;
    json_t *event = json_loadb(payload, len, 0, NULL);
    if (json_is_array(event)) {
        /* A script call's orders, one message for all of them. */
        size_t i;
        json_t *e;
        json_array_foreach(event, i, e) deliver_event(m, e, to_room, to_all);
    } else if (event) {
        deliver_event(m, event, to_room, to_all);
    }
    json_decref(event);
}

/* ---- life cycle ----------------------------------------------------------------------- */

struct lg_monitors *lg_monitor_new(struct lg_gateway *gw)
{
    struct lg_monitors *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->groups = lg_strmap_new();
    if (!m->groups) {
        free(m);
        return NULL;
    }
    m->gw = gw;
    lg_list_init(&m->group_list);
    uv_timer_init(gw->loop, &m->timer);
    m->timer.data = m;
    return m;
}

void lg_monitor_start(struct lg_monitors *m)
{
    uv_timer_start(&m->timer, on_tick, TICK_MS, TICK_MS);
}

static void on_timer_closed(uv_handle_t *h)
{
    (void)h;
}

void lg_monitor_stop(struct lg_monitors *m)
{
    uv_timer_stop(&m->timer);
    uv_close((uv_handle_t *)&m->timer, on_timer_closed);
}

void lg_monitor_free(struct lg_monitors *m)
{
    if (!m)
        return;
    while (!lg_list_empty(&m->group_list)) {
        struct lg_monitor_group *g =
            lg_list_entry(m->group_list.next, struct lg_monitor_group, node);
        lg_list_remove(&g->node);
        /* Sessions are gone by now (lws closed them), and with them their
         * subscriptions; this only frees what an aborted start left. */
        while (!lg_list_empty(&g->subs)) {
            struct lg_monitor_sub *sub = lg_list_entry(g->subs.next, struct lg_monitor_sub, node);
            lg_list_remove(&sub->node);
            free(sub);
        }
        free(g);
    }
    lg_strmap_free(m->groups);
    free(m);
}
