/* fanout.c - bus events to WebSocket frames (see fanout.h). */
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "features/bus.h"
#include "features/fanout.h"
#include "rules/field_rules.h"
#include "core/gateway.h"
#include "keys.h"
#include "livegate/log.h"
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
 * been given the frame yet. */
struct fanout_job {
    struct fanout_job *next;
    struct lg_frame *frame;
    struct lg_session *cursor;
};

struct lg_fanout {
    struct lg_gateway *gw;
    struct fanout_job *head, *tail; /* oldest first: a viewer gets updates in order */
    uv_timer_t timer;
};

/* Queues the frame on up to budget viewers from the job's cursor on;
 * returns how many. */
static unsigned serve(struct lg_gateway *gw, struct fanout_job *job, unsigned budget)
{
    unsigned n = 0;
    while (job->cursor && n < budget) {
        lg_session_send_frame(job->cursor, job->frame);
        job->cursor = lg_session_room_next(job->cursor);
        n++;
    }
    gw->counters[LG_CTR_SKU_UPDATES_OUT] += n;
    return n;
}

static void on_slice(uv_timer_t *t);

static void run_jobs(struct lg_fanout *fo, unsigned budget)
{
    while (fo->head && budget > 0) {
        struct fanout_job *job = fo->head;
        budget -= serve(fo->gw, job, budget);
        if (job->cursor)
            break;
        fo->head = job->next;
        if (!fo->head)
            fo->tail = NULL;
        lg_frame_unref(job->frame);
        free(job);
    }
    /* A 0 ms timer lets the loop poll for I/O before the next slice. */
    if (fo->head)
        uv_timer_start(&fo->timer, on_slice, 0, 0);
}

static void on_slice(uv_timer_t *t)
{
    struct lg_fanout *fo = t->data;
    run_jobs(fo, (unsigned)fo->gw->cfg.fanout_slice);
}

/* One frame for the whole room, a reference queued on each viewer: the cost
 * per viewer is a queue node and a writeable request. A big room is served
 * LIVEGATE_FANOUT_SLICE viewers per loop turn, so 50,000 viewers never hold the
 * loop for more than a slice. The writes then happen one per writeable
 * callback, interleaved with everything else lws serves. */
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
    struct fanout_job *job = calloc(1, sizeof(*job));
    if (!job)
        return;
    job->frame = lg_frame_from_json(
        lg_msg_sku_update(ev.room, ev.sku_id, ev.stock_left, ev.on_sale, ev.price));
    job->cursor = first;
    if (!job->frame) {
        free(job);
        return;
    }
    bool idle = fo->head == NULL;
    if (fo->tail)
        fo->tail->next = job;
    else
        fo->head = job;
    fo->tail = job;
    /* With nothing queued before it, the first slice goes out now. */
    if (idle)
        run_jobs(fo, (unsigned)gw->cfg.fanout_slice);
}

void lg_fanout_forget_session(struct lg_gateway *gw, struct lg_session *s)
{
    if (!gw->fanout)
        return;
    for (struct fanout_job *job = gw->fanout->head; job; job = job->next)
        if (job->cursor == s)
            job->cursor = lg_session_room_next(s);
}

int lg_fanout_start(struct lg_gateway *gw)
{
    struct lg_fanout *fo = calloc(1, sizeof(*fo));
    if (!fo)
        return -1;
    fo->gw = gw;
    uv_timer_init(gw->loop, &fo->timer);
    fo->timer.data = fo;
    gw->fanout = fo;
    if (lg_bus_subscribe(gw->bus, LG_CHAN_STATUS, on_status_event, gw) != 0)
        return -1;
    return lg_bus_subscribe(gw->bus, LG_CHAN_SKU, on_sku_event, gw);
}

static void on_fanout_closed(uv_handle_t *h)
{
    free(h->data);
}

void lg_fanout_stop(struct lg_gateway *gw)
{
    lg_bus_unsubscribe(gw->bus, LG_CHAN_STATUS, on_status_event, gw);
    lg_bus_unsubscribe(gw->bus, LG_CHAN_SKU, on_sku_event, gw);
    struct lg_fanout *fo = gw->fanout;
    if (!fo)
        return;
    gw->fanout = NULL;
    while (fo->head) {
        struct fanout_job *job = fo->head;
        fo->head = job->next;
        lg_frame_unref(job->frame);
        free(job);
    }
    uv_timer_stop(&fo->timer);
    uv_close((uv_handle_t *)&fo->timer, on_fanout_closed);
}
