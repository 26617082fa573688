/* fanout.c - bus events to WebSocket frames (see fanout.h). A room's
 * sku.update events are delivered in budgeted slices, one per loop turn
 * after the turn's I/O and check phases, the events heard for a room in the
 * meantime merged into one pass over its viewers, so each viewer's frames
 * leave in one send. */
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "features/bus.h"
#include "features/fanout.h"
#include "rules/event_peek.h"
#include "rules/field_rules.h"
#include "core/gateway.h"
#include "keys.h"
#include "livegate/list.h"
#include "livegate/log.h"
#include "livegate/strmap.h"
#include "rules/protocol.h"
#include "conn/session.h"

static json_t *load_object(const char *payload, size_t len)
{
    json_error_t jerr;
    json_t *root = json_loadb(payload, len, 0, &jerr);
    if (root && !json_is_object(root)) {
        json_decref(root);
        return NULL;
    }
    return root;
}

/* The bus's payloads are checked with the same field rules as a client's
 * body: a malformed event from any publisher is dropped, never shown. */
int lg_fanout_parse_status(const char *payload, size_t len, struct lg_status_event *out)
{
    memset(out, 0, sizeof(*out));
    json_t *root = load_object(payload, len);
    if (!root)
        return -1;
    struct lg_field_error err;
    char status[LG_ID_MAX + 1];
    bool ok = lg_rule_id(root, "room", "room", false, out->room, NULL, &err) == 0 &&
              lg_rule_id(root, "user", "user", false, out->user, NULL, &err) == 0 &&
              lg_rule_id(root, "order_id", "order_id", false, out->order_id, NULL, &err) == 0 &&
              lg_rule_id(root, "client_order_id", "client_order_id", true, out->client_order_id,
                         NULL, &err) == 0 &&
              lg_rule_id(root, "status", "status", false, status, NULL, &err) == 0 &&
              strlen(status) <= LG_STATUS_MAX &&
              lg_rule_int(root, "at_ms", "at_ms", 0, LLONG_MAX, false, 0, &out->at_ms, &err) == 0;
    if (ok)
        memcpy(out->status, status, strlen(status) + 1);
    json_decref(root);
    return ok ? 0 : -1;
}

int lg_fanout_parse_sku(const char *payload, size_t len, struct lg_sku_event *out)
{
    memset(out, 0, sizeof(*out));
    json_t *root = load_object(payload, len);
    if (!root)
        return -1;
    struct lg_field_error err;
    bool ok = lg_rule_id(root, "room", "room", false, out->room, NULL, &err) == 0 &&
              lg_rule_id(root, "sku_id", "sku_id", false, out->sku_id, NULL, &err) == 0 &&
              lg_rule_int(root, "stock_left", "stock_left", 0, LLONG_MAX, false, 0,
                          &out->stock_left, &err) == 0 &&
              lg_rule_int(root, "price", "price", 0, LLONG_MAX, false, 0, &out->price, &err) == 0 &&
              lg_rule_bool(root, "on_sale", "on_sale", &out->on_sale, &err) == 0;
    json_decref(root);
    return ok ? 0 : -1;
}

static void log_bad_event(const char *channel)
{
    lg_log(LG_LOG_WARN, "bus.bad_event", json_pack("{s:s}", "channel", channel));
}

/* Every connection of the buyer on this gateway hears that the order moved on. */
static void on_status_event(const char *channel, const char *payload, size_t len, void *arg)
{
    struct lg_gateway *gw = arg;
    /* Most events are of buyers connected elsewhere: peeked at, not parsed. */
    char room[LG_ID_MAX + 1], user[LG_ID_MAX + 1];
    if (lg_event_peek(payload, len, "room", room, sizeof(room)) == 0 &&
        lg_event_peek(payload, len, "user", user, sizeof(user)) == 0 &&
        !lg_session_find_user(gw, room, user))
        return;
    struct lg_status_event ev;
    if (lg_fanout_parse_status(payload, len, &ev) != 0) {
        log_bad_event(channel);
        return;
    }
    struct lg_session *s = lg_session_find_user(gw, ev.room, ev.user);
    if (!s)
        return;
    struct lg_frame *f = lg_frame_from_json(
        lg_msg_order_status(ev.order_id, ev.client_order_id, ev.status, ev.at_ms, NULL));
    for (; s; s = lg_session_user_next(s))
        lg_session_send_frame(s, f);
    lg_frame_unref(f);
}

/* A room's fan-out still in progress: the viewers from cursor on have not
 * been given its frames yet. Events for the room that arrive before the job
 * has served anyone join it (up to JOB_FRAMES_MAX), so a viewer gets them in
 * one turn and they leave in one send instead of one write and one POLLOUT
 * arm per event. */
#define JOB_FRAMES_MAX 64

struct fanout_job {
    struct lg_list node; /* on lg_fanout.jobs */
    struct lg_session *cursor;
    char room[LG_ID_MAX + 1];
    unsigned nframes;
    struct lg_frame *frames[JOB_FRAMES_MAX]; /* in the order they were published */
};

/* Slices run from a prepare handle: libuv runs it at the start of the next
 * iteration, after this one's I/O callbacks (so events heard in one turn
 * merge) and after its check handles, where intake sends the turn's submits
 * (so a broadcast never holds them back). An idle handle keeps the loop
 * from blocking in poll while jobs wait. */
struct lg_fanout {
    struct lg_gateway *gw;
    struct lg_list jobs;    /* struct fanout_job, oldest first: a viewer gets updates in order */
    struct lg_strmap *open; /* room -> its job not yet started, if any */
    uv_prepare_t prepare;
    uv_idle_t idle;
    bool scheduled;
    int handles_open;
};

static void job_free(struct fanout_job *job)
{
    lg_list_remove(&job->node);
    for (unsigned i = 0; i < job->nframes; i++)
        lg_frame_unref(job->frames[i]);
    free(job);
}

/* Queues the job's frames on viewers from its cursor on, until budget
 * frames are queued; returns how many. */
static unsigned serve(struct lg_gateway *gw, struct fanout_job *job, unsigned budget)
{
    unsigned n = 0;
    while (job->cursor && n < budget) {
        for (unsigned i = 0; i < job->nframes; i++)
            lg_session_send_optional(job->cursor, job->frames[i]);
        job->cursor = lg_session_room_next(job->cursor);
        n += job->nframes;
    }
    gw->counters[LG_CTR_SKU_UPDATES_OUT] += n;
    return n;
}

static void on_prepare(uv_prepare_t *h);
static void on_idle(uv_idle_t *h)
{
    (void)h; /* only here so that poll does not block */
}

static void schedule(struct lg_fanout *fo, bool on)
{
    if (on == fo->scheduled)
        return;
    fo->scheduled = on;
    if (on) {
        uv_prepare_start(&fo->prepare, on_prepare);
        uv_idle_start(&fo->idle, on_idle);
    } else {
        uv_prepare_stop(&fo->prepare);
        uv_idle_stop(&fo->idle);
    }
}

/* A job that has served a viewer takes no more events: a later event joining
 * it would miss the viewers already served. */
static void close_to_events(struct lg_fanout *fo, struct fanout_job *job)
{
    if (lg_strmap_get(fo->open, job->room) == job)
        lg_strmap_del(fo->open, job->room);
}

static void run_jobs(struct lg_fanout *fo, unsigned budget)
{
    while (!lg_list_empty(&fo->jobs) && budget > 0) {
        struct fanout_job *job = lg_list_entry(lg_list_first(&fo->jobs), struct fanout_job, node);
        close_to_events(fo, job);
        unsigned n = serve(fo->gw, job, budget);
        budget = n >= budget ? 0 : budget - n;
        if (job->cursor)
            break;
        job_free(job);
    }
    schedule(fo, !lg_list_empty(&fo->jobs));
}

/* One budgeted slice per loop iteration (see struct lg_fanout). */
static void on_prepare(uv_prepare_t *h)
{
    struct lg_fanout *fo = h->data;
    run_jobs(fo, (unsigned)fo->gw->cfg.fanout_slice);
}

static struct fanout_job *job_for(struct lg_fanout *fo, const char *room, struct lg_session *first)
{
    struct fanout_job *job = lg_strmap_get(fo->open, room);
    if (job && job->nframes < JOB_FRAMES_MAX)
        return job;
    job = calloc(1, sizeof(*job));
    if (!job)
        return NULL;
    snprintf(job->room, sizeof(job->room), "%s", room);
    job->cursor = first;
    if (lg_strmap_put(fo->open, room, job) != 0) {
        free(job);
        return NULL;
    }
    lg_list_insert_tail(&fo->jobs, &job->node);
    schedule(fo, true);
    return job;
}

/* One frame for the whole room, a reference queued on each viewer: the cost
 * per viewer is a queue node and a writeable request. A big room is served
 * LIVEGATE_FANOUT_SLICE frames per loop turn, so 50,000 viewers never hold
 * the loop for more than a slice. The writes then happen in the writeable
 * callbacks, one send per viewer for all the frames it got in that turn. */
static void on_sku_event(const char *channel, const char *payload, size_t len, void *arg)
{
    struct lg_gateway *gw = arg;
    struct lg_fanout *fo = gw->fanout;
    struct lg_sku_event ev;
    if (lg_fanout_parse_sku(payload, len, &ev) != 0) {
        log_bad_event(channel);
        return;
    }
    struct lg_session *first = lg_session_find_room(gw, ev.room);
    if (!first || !fo)
        return;
    struct lg_frame *f = lg_frame_from_json(
        lg_msg_sku_update(ev.room, ev.sku_id, ev.stock_left, ev.on_sale, ev.price));
    if (!f)
        return;
    struct fanout_job *job = job_for(fo, ev.room, first);
    if (!job) {
        lg_frame_unref(f);
        return;
    }
    job->frames[job->nframes++] = f;
}

void lg_fanout_forget_session(struct lg_gateway *gw, struct lg_session *s)
{
    if (!gw->fanout)
        return;
    struct lg_list *jobs = &gw->fanout->jobs;
    for (struct lg_list *q = lg_list_first(jobs); q; q = lg_list_next(jobs, q)) {
        struct fanout_job *job = lg_list_entry(q, struct fanout_job, node);
        if (job->cursor == s)
            job->cursor = lg_session_room_next(s);
    }
}

int lg_fanout_start(struct lg_gateway *gw)
{
    struct lg_fanout *fo = calloc(1, sizeof(*fo));
    if (!fo)
        return -1;
    fo->open = lg_strmap_new();
    if (!fo->open) {
        free(fo);
        return -1;
    }
    fo->gw = gw;
    lg_list_init(&fo->jobs);
    uv_prepare_init(gw->loop, &fo->prepare);
    uv_idle_init(gw->loop, &fo->idle);
    fo->prepare.data = fo;
    fo->idle.data = fo;
    fo->handles_open = 2;
    gw->fanout = fo;
    if (lg_bus_subscribe(gw->bus, LG_CHAN_STATUS, on_status_event, gw) != 0)
        return -1;
    return lg_bus_subscribe(gw->bus, LG_CHAN_SKU, on_sku_event, gw);
}

static void on_fanout_closed(uv_handle_t *h)
{
    struct lg_fanout *fo = h->data;
    if (--fo->handles_open == 0) {
        lg_strmap_free(fo->open);
        free(fo);
    }
}

void lg_fanout_stop(struct lg_gateway *gw)
{
    lg_bus_unsubscribe(gw->bus, LG_CHAN_STATUS, on_status_event, gw);
    lg_bus_unsubscribe(gw->bus, LG_CHAN_SKU, on_sku_event, gw);
    struct lg_fanout *fo = gw->fanout;
    if (!fo)
        return;
    gw->fanout = NULL;
    while (!lg_list_empty(&fo->jobs)) {
        struct fanout_job *job = lg_list_entry(lg_list_first(&fo->jobs), struct fanout_job, node);
        close_to_events(fo, job);
        job_free(job);
    }
    schedule(fo, false);
    uv_close((uv_handle_t *)&fo->prepare, on_fanout_closed);
    uv_close((uv_handle_t *)&fo->idle, on_fanout_closed);
}
