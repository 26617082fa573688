/* monitor_frames.c - monitor.stats, monitor.order, feed sampling and
 * splicing (see monitor_frames.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/mask.h"
#include "rules/monitor_frames.h"
#include "rules/protocol.h"

/* ---- monitor.stats ------------------------------------------------------ */

static json_t *ms_of_us(uint64_t us)
{
    return json_real((double)us / 1000.0);
}

/* The validators' drain rate to a tenth of a decision, null while not known. */
static json_t *drain_of(const struct lg_stats_view *v)
{
    double r = v->drain_per_s;
    if (!(r > 0))
        return json_null();
    if (r < 1e12) /* past that the cast would overflow, and a tenth means nothing */
        r = (double)(long long)(r * 10.0 + 0.5) / 10.0;
    return json_real(r);
}

static json_t *predicted_wait_of(const struct lg_stats_view *v)
{
    if (v->wait_high_ms < 0 || v->wait_normal_ms < 0)
        return json_null();
    return json_pack("{s:I,s:I}", "high", (json_int_t)v->wait_high_ms, "normal",
                     (json_int_t)v->wait_normal_ms);
}

json_t *lg_monframe_stats(const char *room, int64_t ts_ms, const struct lg_stats_view *v,
                          const char *req)
{
    const long long *c = v->counters;
    json_t *codes = json_object();
    for (size_t i = 0; i < v->ncodes; i++)
        json_object_set_new(codes, v->codes[i].code, json_integer((json_int_t)v->codes[i].n));
    json_t *orders =
        json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "received", (json_int_t)c[LG_STAT_RECEIVED],
                  "accepted", (json_int_t)c[LG_STAT_ACCEPTED], "duplicates",
                  (json_int_t)c[LG_STAT_DUPLICATES], "confirmed", (json_int_t)c[LG_STAT_CONFIRMED],
                  "rejected", (json_int_t)c[LG_STAT_REJECTED], "busy", (json_int_t)c[LG_STAT_BUSY],
                  "rate_limited", (json_int_t)c[LG_STAT_RATE_LIMITED], "pay_timeouts",
                  (json_int_t)c[LG_STAT_PAY_TIMEOUTS]);
    json_t *queue = json_pack("{s:I,s:I,s:I,s:o,s:o}", "high", (json_int_t)v->queue_high, "normal",
                              (json_int_t)v->queue_normal, "oldest_age_ms",
                              (json_int_t)lg_stats_view_oldest_ms(v), "drain_per_s", drain_of(v),
                              "predicted_wait_ms", predicted_wait_of(v));
    uint64_t cmax = v->confirm_max_us;
    if (cmax < v->confirm_us.max)
        cmax = v->confirm_us.max;
    json_t *latency = json_pack(
        "{s:o,s:o,s:o,s:o,s:o}", "accept_p50", ms_of_us(lg_hist_percentile(&v->accept_us, 50)),
        "accept_p99", ms_of_us(lg_hist_percentile(&v->accept_us, 99)), "confirm_p50",
        ms_of_us(lg_hist_percentile(&v->confirm_us, 50)), "confirm_p99",
        ms_of_us(lg_hist_percentile(&v->confirm_us, 99)), "confirm_max", ms_of_us(cmax));
    json_t *msg = json_pack("{s:s,s:s,s:I,s:I,s:o,s:o,s:I,s:o,s:o,s:I}", "type", "monitor.stats",
                            "room_id", room, "ts_ms", (json_int_t)ts_ms, "connections",
                            (json_int_t)v->connections, "orders", orders, "rejected_by_code", codes,
                            "gmv_fen", (json_int_t)c[LG_STAT_GMV_FEN], "queue", queue, "latency_ms",
                            latency, "sla_violations", (json_int_t)c[LG_STAT_SLA_VIOLATIONS]);
    if (msg)
        json_object_set_new(msg, "opened_at_ms", json_integer((json_int_t)v->opened_at_ms));
    return lg_msg_with_req(msg, req);
}

/* ---- monitor.order ------------------------------------------------------- */

#define FEED_TEXT_MAX 64

static const char *text_field(json_t *event, const char *name)
{
    json_t *v = json_object_get(event, name);
    if (!json_is_string(v) || json_string_length(v) > FEED_TEXT_MAX)
        return NULL;
    for (const char *p = json_string_value(v); *p; p++)
        if ((unsigned char)*p < 0x20)
            return NULL;
    return json_string_value(v);
}

static bool int_field(json_t *event, const char *name, json_int_t *out)
{
    json_t *v = json_object_get(event, name);
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    const char *s = text_field(event, name);
    if (!s || !*s)
        return false;
    char *end;
    long long n = strtoll(s, &end, 10);
    if (*end)
        return false;
    *out = n;
    return true;
}

static void copy_text(json_t *msg, json_t *event, const char *name)
{
    const char *v = text_field(event, name);
    if (v && *v)
        json_object_set_new(msg, name, json_string(v));
}

static void copy_int(json_t *msg, json_t *event, const char *name)
{
    json_int_t n;
    if (int_field(event, name, &n))
        json_object_set_new(msg, name, json_integer(n));
}

json_t *lg_monframe_order(json_t *event)
{
    const char *room = text_field(event, "room");
    if (!room)
        room = text_field(event, "room_id");
    const char *order_id = text_field(event, "order_id");
    const char *status = text_field(event, "status");
    if (!room || !*room || !order_id || !*order_id || !status || !*status)
        return NULL;
    json_t *msg = json_pack("{s:s,s:s,s:s,s:s}", "type", "monitor.order", "room_id", room,
                            "order_id", order_id, "status", status);
    if (!msg)
        return NULL;
    copy_text(msg, event, "client_order_id");
    copy_text(msg, event, "from");
    copy_text(msg, event, "code");
    copy_text(msg, event, "sku_id");
    copy_int(msg, event, "qty");
    copy_int(msg, event, "amount");
    copy_text(msg, event, "priority");
    const char *buyer = text_field(event, "buyer");
    const char *phone = text_field(event, "phone");
    json_object_set_new(msg, "buyer",
                        json_string(buyer && lg_mask_is_masked_name(buyer) ? buyer : "*"));
    json_object_set_new(msg, "phone",
                        json_string(phone && lg_mask_is_masked_phone(phone) ? phone : "****"));
    copy_int(msg, event, "at_ms");
    return msg;
}

/* ---- sampling ------------------------------------------------------------ */

bool lg_monframe_gate_admit(struct lg_monframe_gate *g, int64_t now_ms, unsigned limit)
{
    if (now_ms - g->window_start_ms >= 1000 || now_ms < g->window_start_ms) {
        g->window_start_ms = now_ms;
        g->sent = 0;
    }
    if (g->sent >= limit) {
        lg_monframe_gate_drop(g);
        return false;
    }
    g->sent++;
    return true;
}

void lg_monframe_gate_sent(struct lg_monframe_gate *g)
{
    g->dropped_since_sent = 0;
}

void lg_monframe_gate_drop(struct lg_monframe_gate *g)
{
    g->dropped_since_sent++;
    g->dropped_total++;
}

/* ---- splicing ------------------------------------------------------------ */

char *lg_monframe_splice(const char *text, size_t len, const char *field, unsigned long long n,
                         bool always, size_t *out_len)
{
    if (len < 2 || text[0] != '{' || text[len - 1] != '}')
        return NULL;
    char extra[96] = "";
    int elen = 0;
    if (always || n) {
        bool empty = len == 2;
        elen = snprintf(extra, sizeof(extra), "%s\"%s\":%llu", empty ? "" : ",", field, n);
        if (elen < 0 || (size_t)elen >= sizeof(extra))
            return NULL;
    }
    char *out = malloc(len + (size_t)elen + 1);
    if (!out)
        return NULL;
    memcpy(out, text, len - 1);
    memcpy(out + len - 1, extra, (size_t)elen);
    out[len - 1 + (size_t)elen] = '}';
    out[len + (size_t)elen] = 0;
    *out_len = len + (size_t)elen;
    return out;
}
