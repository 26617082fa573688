/* fanout.c - bus events to WebSocket frames (see fanout.h). */
#include <jansson.h>
#include <string.h>

#include "bus.h"
#include "fanout.h"
#include "gateway.h"
#include "keys.h"
#include "livegate/clock.h"
#include "livegate/log.h"
#include "protocol.h"
#include "session.h"

static bool copy_id(json_t *root, const char *field, char *out)
{
    json_t *v = json_object_get(root, field);
    if (!json_is_string(v) || !lg_text_is_id(json_string_value(v), json_string_length(v)))
        return false;
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return true;
}

static bool copy_count(json_t *root, const char *field, long long *out)
{
    json_t *v = json_object_get(root, field);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return false;
    *out = json_integer_value(v);
    return true;
}

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

int lg_fanout_parse_status(const char *payload, size_t len, struct lg_status_event *out)
{
    memset(out, 0, sizeof(*out));
    json_t *root = load_object(payload, len);
    if (!root)
        return -1;
    json_t *coid = json_object_get(root, "client_order_id");
    bool ok =
        copy_id(root, "room", out->room) && copy_id(root, "user", out->user) &&
        copy_id(root, "order_id", out->order_id) &&
        (!coid || json_is_null(coid) || copy_id(root, "client_order_id", out->client_order_id));
    json_t *status = json_object_get(root, "status");
    ok = ok && json_is_string(status) && json_string_length(status) > 0 &&
         json_string_length(status) <= LG_STATUS_MAX &&
         lg_text_is_id(json_string_value(status), json_string_length(status));
    if (ok)
        memcpy(out->status, json_string_value(status), json_string_length(status) + 1);
    ok = ok && copy_count(root, "at_ms", &out->at_ms);
    json_decref(root);
    return ok ? 0 : -1;
}

int lg_fanout_parse_sku(const char *payload, size_t len, struct lg_sku_event *out)
{
    memset(out, 0, sizeof(*out));
    json_t *root = load_object(payload, len);
    if (!root)
        return -1;
    json_t *on_sale = json_object_get(root, "on_sale");
    bool ok = copy_id(root, "room", out->room) && copy_id(root, "sku_id", out->sku_id) &&
              copy_count(root, "stock_left", &out->stock_left) &&
              copy_count(root, "price", &out->price) && json_is_boolean(on_sale);
    out->on_sale = json_is_true(on_sale);
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
    for (; s; s = s->user_next)
        lg_session_send_frame(s, f);
    lg_frame_unref(f);
}

/* One frame for the whole room, a reference queued on each viewer: the cost
 * per viewer is a queue node and a writeable request, so a room of 50,000
 * viewers is one short pass of the loop. The writes then happen one per
 * writeable callback, interleaved with everything else lws serves. */
static void on_sku_event(const char *channel, const char *payload, size_t len, void *arg)
{
    struct lg_gateway *gw = arg;
    struct lg_sku_event ev;
    if (lg_fanout_parse_sku(payload, len, &ev) != 0) {
        log_bad_event(channel);
        return;
    }
    struct lg_session *s = lg_session_find_room(gw, ev.room);
    if (!s)
        return;
    int64_t start_us = lg_mono_us();
    struct lg_frame *f = lg_frame_from_json(
        lg_msg_sku_update(ev.room, ev.sku_id, ev.stock_left, ev.on_sale, ev.price));
    unsigned long viewers = 0;
    for (; s; s = s->room_next, viewers++)
        lg_session_send_frame(s, f);
    lg_frame_unref(f);
    gw->counters.sku_updates_out += viewers;
    lg_log(LG_LOG_DEBUG, "fanout.sku",
           json_pack("{s:s,s:s,s:I,s:I}", "room", ev.room, "sku_id", ev.sku_id, "viewers",
                     (json_int_t)viewers, "us", (json_int_t)(lg_mono_us() - start_us)));
}

int lg_fanout_start(struct lg_gateway *gw)
{
    if (lg_bus_subscribe(gw->bus, LG_CHAN_STATUS, on_status_event, gw) != 0)
        return -1;
    return lg_bus_subscribe(gw->bus, LG_CHAN_SKU, on_sku_event, gw);
}

void lg_fanout_stop(struct lg_gateway *gw)
{
    lg_bus_unsubscribe(gw->bus, LG_CHAN_STATUS, on_status_event, gw);
    lg_bus_unsubscribe(gw->bus, LG_CHAN_SKU, on_sku_event, gw);
}
