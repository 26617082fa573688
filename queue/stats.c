/* stats.c - room-wide statistics (see stats.h): the per-room deltas, the
 * argument list of stats_flush.lua, the parsing of stats_read.lua's answer,
 * and the thin glue that sends both. */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "livegate/clock.h"
#include "livegate/log.h"
#include "livegate/strmap.h"
#include "scripts.h"
#include "stats.h"

const char *const lg_stat_names[LG_STAT_COUNT] = {
    "received", "accepted",     "duplicates", "confirmed",      "rejected",
    "busy",     "rate_limited", "gmv_fen",    "sla_violations", "pay_timeouts",
};

/* ---- deltas ----------------------------------------------------------- */

void lg_stats_delta_init(struct lg_stats_delta *d, const char *room)
{
    memset(d, 0, sizeof(*d));
    snprintf(d->room, sizeof(d->room), "%s", room);
    d->reported_connections = -1;
}

void lg_stats_delta_count(struct lg_stats_delta *d, enum lg_stat stat, unsigned long long n)
{
    d->counters[stat] += n;
    d->dirty = true;
}

static struct lg_stats_code *find_code(struct lg_stats_delta *d, const char *name)
{
    for (size_t i = 0; i < d->ncodes; i++)
        if (strcmp(d->codes[i].code, name) == 0)
            return &d->codes[i];
    return NULL;
}

/* The last slot of the table is kept for OTHER, so every rejection is
 * counted under some name. */
void lg_stats_delta_reject_code(struct lg_stats_delta *d, const char *code)
{
    const char *name = code && *code && strlen(code) <= LG_STATS_CODE_MAX ? code : "OTHER";
    struct lg_stats_code *c = find_code(d, name);
    if (!c && d->ncodes >= LG_STATS_MAX_CODES - 1 && strcmp(name, "OTHER") != 0) {
        name = "OTHER";
        c = find_code(d, name);
    }
    if (!c) {
        c = &d->codes[d->ncodes++];
        snprintf(c->code, sizeof(c->code), "%s", name);
        c->n = 0;
    }
    c->n++;
    d->dirty = true;
}

static void record(struct lg_hist **h, uint64_t us)
{
    if (!*h) {
        *h = malloc(sizeof(**h));
        if (!*h)
            return;
        lg_hist_init(*h);
    }
    lg_hist_record(*h, us);
}

void lg_stats_delta_accept_us(struct lg_stats_delta *d, uint64_t us)
{
    record(&d->accept_us, us);
    d->dirty = true;
}

void lg_stats_delta_confirm_us(struct lg_stats_delta *d, uint64_t us)
{
    record(&d->confirm_us, us);
    if (us > d->confirm_max_us)
        d->confirm_max_us = us;
    d->dirty = true;
}

void lg_stats_delta_free_hists(struct lg_stats_delta *d)
{
    free(d->accept_us);
    free(d->confirm_us);
    d->accept_us = d->confirm_us = NULL;
}

void lg_stats_delta_clear(struct lg_stats_delta *d)
{
    memset(d->counters, 0, sizeof(d->counters));
    d->ncodes = 0;
    /* Freed rather than zeroed: an idle room should not keep 36 KiB. */
    lg_stats_delta_free_hists(d);
    d->confirm_max_us = 0;
    d->dirty = false;
}

/* ---- the flush arguments ---------------------------------------------- */

void lg_strvec_free(struct lg_strvec *sv)
{
    for (size_t i = 0; i < sv->n; i++)
        free(sv->v[i]);
    free(sv->v);
    memset(sv, 0, sizeof(*sv));
}

static int strvec_push(struct lg_strvec *sv, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int strvec_push(struct lg_strvec *sv, const char *fmt, ...)
{
    if (sv->n == sv->cap) {
        size_t cap = sv->cap ? sv->cap * 2 : 32;
        char **grown = realloc(sv->v, cap * sizeof(*grown));
        if (!grown)
            return -1;
        sv->v = grown;
        sv->cap = cap;
    }
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int rc = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (rc < 0)
        return -1;
    sv->v[sv->n++] = s;
    return 0;
}

static size_t hist_pairs(const struct lg_hist *h)
{
    size_t n = 0;
    for (size_t i = 0; h && i < LG_HIST_BUCKETS; i++)
        n += h->counts[i] != 0;
    return n;
}

static int push_hist(struct lg_strvec *sv, char kind, const struct lg_hist *h)
{
    for (size_t i = 0; h && i < LG_HIST_BUCKETS; i++)
        if (h->counts[i] && (strvec_push(sv, "%c:%zu", kind, i) ||
                             strvec_push(sv, "%llu", (unsigned long long)h->counts[i])))
            return -1;
    return 0;
}

int lg_stats_flush_args(const struct lg_stats_delta *d, const char *process_id,
                        bool report_connections, struct lg_strvec *sv)
{
    memset(sv, 0, sizeof(*sv));
    size_t ncounters = d->ncodes;
    for (int i = 0; i < LG_STAT_COUNT; i++)
        ncounters += d->counters[i] != 0;
    size_t nhist = hist_pairs(d->accept_us) + hist_pairs(d->confirm_us);
    int bad = strvec_push(sv, "%s", process_id);
    if (report_connections)
        bad |= strvec_push(sv, "%ld", d->connections);
    else
        bad |= strvec_push(sv, "%s", "");
    bad |= strvec_push(sv, "%d", LG_STATS_CONN_FORGET_MS);
    bad |= strvec_push(sv, "%d", LG_STATS_LATENCY_TTL_S);
    bad |= strvec_push(sv, "%d", LG_STATS_TOTALS_TTL_S);
    bad |= strvec_push(sv, "%zu", ncounters);
    bad |= strvec_push(sv, "%zu", nhist);
    bad |= strvec_push(sv, "%llu", (unsigned long long)d->confirm_max_us);
    for (int i = 0; !bad && i < LG_STAT_COUNT; i++)
        if (d->counters[i])
            bad |=
                strvec_push(sv, "%s", lg_stat_names[i]) || strvec_push(sv, "%llu", d->counters[i]);
    for (size_t i = 0; !bad && i < d->ncodes; i++)
        bad |=
            strvec_push(sv, "rej:%s", d->codes[i].code) || strvec_push(sv, "%llu", d->codes[i].n);
    if (!bad)
        bad |= push_hist(sv, 'a', d->accept_us) || push_hist(sv, 'c', d->confirm_us);
    if (bad) {
        lg_strvec_free(sv);
        return -1;
    }
    return 0;
}

/* ---- the read answer -------------------------------------------------- */

void lg_stats_view_init(struct lg_stats_view *v)
{
    memset(v, 0, sizeof(*v));
    v->wait_high_ms = v->wait_normal_ms = -1;
    lg_hist_init(&v->accept_us);
    lg_hist_init(&v->confirm_us);
}

static long long json_ll(json_t *v)
{
    if (json_is_integer(v))
        return json_integer_value(v);
    if (json_is_real(v))
        return (long long)json_real_value(v);
    if (json_is_string(v))
        return strtoll(json_string_value(v), NULL, 10);
    return 0;
}

/* The load's rate as stats_read.lua passes it on (the stored string);
 * anything but a finite positive number is "not known", 0. */
static double json_rate(json_t *v)
{
    double r = 0;
    if (json_is_number(v)) {
        r = json_number_value(v);
    } else if (json_is_string(v) && json_string_length(v) > 0) {
        char *end;
        r = strtod(json_string_value(v), &end);
        if (*end)
            r = 0;
    }
    return isfinite(r) && r > 0 ? r : 0;
}

long long lg_stats_predicted_wait_ms(long long ahead, double rate)
{
    if (!isfinite(rate) || rate <= 0)
        return -1;
    if (ahead <= 0)
        return 0;
    double ms = (double)ahead * 1000.0 / rate;
    /* A rate so small the wait overflows is as good as none draining. */
    if (!(ms < 9e15))
        return 9000000000000000LL;
    long long whole = (long long)ms;
    return (double)whole < ms ? whole + 1 : whole; /* rounded up: a backlog never waits 0 */
}

static void add_code(struct lg_stats_view *v, const char *code, long long n)
{
    for (size_t i = 0; i < v->ncodes; i++) {
        if (strcmp(v->codes[i].code, code) == 0) {
            v->codes[i].n += (unsigned long long)n;
            return;
        }
    }
    if (v->ncodes == sizeof(v->codes) / sizeof(v->codes[0]))
        return;
    snprintf(v->codes[v->ncodes].code, sizeof(v->codes[0].code), "%s", code);
    v->codes[v->ncodes++].n = (unsigned long long)n;
}

static void parse_hist(json_t *obj, struct lg_hist *h)
{
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val)
    {
        char *end;
        unsigned long long bucket = strtoull(key, &end, 10);
        long long n = json_ll(val);
        if (*end || bucket >= LG_HIST_BUCKETS || n <= 0)
            continue;
        lg_hist_record_n(h, lg_hist_bucket_value((size_t)bucket), (uint64_t)n);
    }
}

static long long age_of(long long oldest_ms, long long now_ms)
{
    if (oldest_ms <= 0)
        return 0;
    return now_ms > oldest_ms ? now_ms - oldest_ms : 0;
}

int lg_stats_view_parse(const char *text, size_t len, struct lg_stats_view *v)
{
    lg_stats_view_init(v);
    json_t *root = json_loadb(text, len, 0, NULL);
    json_t *totals = json_object_get(root, "totals");
    json_t *queue = json_object_get(root, "queue");
    if (!json_is_object(root) || !json_is_object(queue)) {
        json_decref(root);
        return -1;
    }
    const char *key;
    json_t *val;
    json_object_foreach(totals, key, val)
    {
        if (strcmp(key, "opened_at_ms") == 0) {
            v->opened_at_ms = json_ll(val);
            continue;
        }
        if (strncmp(key, "rej:", 4) == 0 && key[4] && strlen(key + 4) <= LG_STATS_CODE_MAX) {
            add_code(v, key + 4, json_ll(val));
            continue;
        }
        for (int i = 0; i < LG_STAT_COUNT; i++)
            if (strcmp(key, lg_stat_names[i]) == 0)
                v->counters[i] = json_ll(val);
    }
    v->connections = json_ll(json_object_get(root, "connections"));
    long long now = json_ll(json_object_get(queue, "now_ms"));
    v->queue_high = json_ll(json_object_get(queue, "high"));
    v->queue_normal = json_ll(json_object_get(queue, "normal"));
    v->oldest_high_ms = age_of(json_ll(json_object_get(queue, "high_oldest_ms")), now);
    v->oldest_normal_ms = age_of(json_ll(json_object_get(queue, "normal_oldest_ms")), now);
    v->drain_per_s = json_rate(json_object_get(queue, "rate"));
    v->wait_high_ms = lg_stats_predicted_wait_ms(v->queue_high, v->drain_per_s);
    v->wait_normal_ms = lg_stats_predicted_wait_ms(v->queue_high + v->queue_normal, v->drain_per_s);
    parse_hist(json_object_get(root, "accept"), &v->accept_us);
    parse_hist(json_object_get(root, "confirm"), &v->confirm_us);
    long long cmax = json_ll(json_object_get(root, "cmax"));
    v->confirm_max_us = cmax > 0 ? (uint64_t)cmax : 0;
    json_decref(root);
    return 0;
}

static long long max_ll(long long a, long long b)
{
    return a > b ? a : b;
}

void lg_stats_view_merge(struct lg_stats_view *dst, const struct lg_stats_view *src)
{
    /* Several rooms together started counting when the earliest did. */
    if (src->opened_at_ms && (!dst->opened_at_ms || src->opened_at_ms < dst->opened_at_ms))
        dst->opened_at_ms = src->opened_at_ms;
    dst->connections += src->connections;
    for (int i = 0; i < LG_STAT_COUNT; i++)
        dst->counters[i] += src->counters[i];
    for (size_t i = 0; i < src->ncodes; i++)
        add_code(dst, src->codes[i].code, (long long)src->codes[i].n);
    dst->queue_high += src->queue_high;
    dst->queue_normal += src->queue_normal;
    dst->oldest_high_ms = max_ll(dst->oldest_high_ms, src->oldest_high_ms);
    dst->oldest_normal_ms = max_ll(dst->oldest_normal_ms, src->oldest_normal_ms);
    /* Each room drains on its own: their rates add up, and "*" waits as
     * long as its slowest room (unknown ones aside, -1 loses to any). */
    dst->drain_per_s += src->drain_per_s;
    dst->wait_high_ms = max_ll(dst->wait_high_ms, src->wait_high_ms);
    dst->wait_normal_ms = max_ll(dst->wait_normal_ms, src->wait_normal_ms);
    lg_hist_merge(&dst->accept_us, &src->accept_us);
    lg_hist_merge(&dst->confirm_us, &src->confirm_us);
    if (src->confirm_max_us > dst->confirm_max_us)
        dst->confirm_max_us = src->confirm_max_us;
}

long long lg_stats_view_oldest_ms(const struct lg_stats_view *v)
{
    return max_ll(v->oldest_high_ms, v->oldest_normal_ms);
}

/* ---- the accumulator -------------------------------------------------- */

struct lg_stats {
    uv_timer_t timer; /* the flush every LG_STATS_FLUSH_MS, once started */
    bool timer_on;
    struct lg_redis *redis;
    char process_id[LG_ID_MAX + 1];
    bool report_connections;
    struct lg_strmap *by_room;
    struct lg_stats_delta *head;
    unsigned long long flush_failures;
};

struct lg_stats *lg_stats_new(const char *process_id, bool report_connections)
{
    struct lg_stats *st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    st->by_room = lg_strmap_new();
    if (!st->by_room) {
        free(st);
        return NULL;
    }
    snprintf(st->process_id, sizeof(st->process_id), "%s", process_id);
    st->report_connections = report_connections;
    return st;
}

static void on_flush_timer(uv_timer_t *t)
{
    struct lg_stats *st = t->data;
    lg_stats_flush(st, st->redis);
}

void lg_stats_start(struct lg_stats *st, uv_loop_t *loop, struct lg_redis *r)
{
    st->redis = r;
    uv_timer_init(loop, &st->timer);
    st->timer.data = st;
    uv_timer_start(&st->timer, on_flush_timer, LG_STATS_FLUSH_MS, LG_STATS_FLUSH_MS);
    st->timer_on = true;
}

static void on_timer_closed(uv_handle_t *h)
{
    (void)h;
}

void lg_stats_stop(struct lg_stats *st)
{
    if (!st || !st->timer_on)
        return;
    st->timer_on = false;
    lg_stats_flush(st, st->redis); /* best effort: the connection closes next */
    uv_timer_stop(&st->timer);
    uv_close((uv_handle_t *)&st->timer, on_timer_closed);
}

void lg_stats_free(struct lg_stats *st)
{
    if (!st)
        return;
    struct lg_stats_delta *d = st->head;
    while (d) {
        struct lg_stats_delta *next = d->next;
        lg_stats_delta_free_hists(d);
        free(d);
        d = next;
    }
    lg_strmap_free(st->by_room);
    free(st);
}

struct lg_stats_delta *lg_stats_room(struct lg_stats *st, const char *room)
{
    if (!st || !room || !lg_text_is_id(room, strlen(room)))
        return NULL;
    struct lg_stats_delta *d = lg_strmap_get(st->by_room, room);
    if (d)
        return d;
    d = malloc(sizeof(*d));
    if (!d)
        return NULL;
    lg_stats_delta_init(d, room);
    if (lg_strmap_put(st->by_room, d->room, d) != 0) {
        free(d);
        return NULL;
    }
    d->next = st->head;
    st->head = d;
    return d;
}

static void on_flushed(redisReply *reply, void *arg)
{
    struct lg_stats *st = arg;
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        st->flush_failures++;
        if (reply)
            lg_log(LG_LOG_WARN, "stats.flush_failed", json_pack("{s:s}", "detail", reply->str));
    }
}

static bool has_news(const struct lg_stats *st, const struct lg_stats_delta *d)
{
    /* Connections are re-stated every flush while there are any, so a
     * reader can tell a live gateway from a dead one by the stamp. */
    return d->dirty ||
           (st->report_connections && (d->connections != 0 || d->reported_connections != 0));
}

static int flush_one(struct lg_stats *st, struct lg_redis *r, struct lg_stats_delta *d,
                     long long second)
{
    char k_totals[LG_KEY_MAX], k_conns[LG_KEY_MAX], k_lat[LG_KEY_MAX];
    if (lg_key_stats(k_totals, sizeof(k_totals), d->room) < 0 ||
        lg_key_stats_conns(k_conns, sizeof(k_conns), d->room) < 0 ||
        lg_key_stats_latency(k_lat, sizeof(k_lat), d->room, second) < 0)
        return 0; /* cannot happen with ID rooms; drop rather than retry forever */
    struct lg_strvec sv;
    if (lg_stats_flush_args(d, st->process_id, st->report_connections, &sv) != 0)
        return -1;
    const char **args = malloc((3 + sv.n) * sizeof(*args));
    if (!args) {
        lg_strvec_free(&sv);
        return -1;
    }
    args[0] = k_totals;
    args[1] = k_conns;
    args[2] = k_lat;
    for (size_t i = 0; i < sv.n; i++)
        args[3 + i] = sv.v[i];
    int rc =
        lg_script_call(r, &lg_script_stats_flush, on_flushed, st, 3, (int)(3 + sv.n), args, NULL);
    free(args);
    lg_strvec_free(&sv);
    return rc;
}

void lg_stats_flush(struct lg_stats *st, struct lg_redis *r)
{
    if (!st || !lg_redis_is_up(r))
        return;
    long long second = lg_wall_ms() / 1000;
    struct lg_stats_delta **link = &st->head;
    while (*link) {
        struct lg_stats_delta *d = *link;
        if (has_news(st, d)) {
            if (flush_one(st, r, d, second) != 0) {
                st->flush_failures++;
                link = &d->next;
                continue; /* kept for the next flush */
            }
            lg_stats_delta_clear(d);
            d->reported_connections = d->connections;
            link = &d->next;
            continue;
        }
        if (d->connections == 0) {
            *link = d->next;
            lg_strmap_del(st->by_room, d->room);
            lg_stats_delta_free_hists(d);
            free(d);
            continue;
        }
        link = &d->next;
    }
}

unsigned long long lg_stats_flush_failures(const struct lg_stats *st)
{
    return st ? st->flush_failures : 0;
}

/* ---- reading ---------------------------------------------------------- */

struct read_ctx {
    lg_stats_read_fn fn;
    void *arg;
};

static void on_read(redisReply *reply, void *arg)
{
    struct read_ctx *ctx = arg;
    struct lg_stats_view *v = NULL;
    if (reply && reply->type == REDIS_REPLY_STRING) {
        v = malloc(sizeof(*v));
        if (v && lg_stats_view_parse(reply->str, reply->len, v) != 0) {
            free(v);
            v = NULL;
        }
    } else if (reply && reply->type == REDIS_REPLY_ERROR) {
        lg_log(LG_LOG_WARN, "stats.read_failed", json_pack("{s:s}", "detail", reply->str));
    }
    ctx->fn(v, ctx->arg);
    free(v);
    free(ctx);
}

int lg_stats_read(struct lg_redis *r, const char *room, bool with_latency, lg_stats_read_fn fn,
                  void *arg)
{
    enum { NFIXED = 5, NLAT = LG_STATS_WINDOW_S + 1 };
    char keys[NFIXED + NLAT][LG_KEY_MAX];
    int nkeys = NFIXED;
    if (lg_key_stats(keys[0], LG_KEY_MAX, room) < 0 ||
        lg_key_stats_conns(keys[1], LG_KEY_MAX, room) < 0 ||
        lg_key_stream(keys[2], LG_KEY_MAX, room, true) < 0 ||
        lg_key_stream(keys[3], LG_KEY_MAX, room, false) < 0 ||
        lg_key_room_load(keys[4], LG_KEY_MAX, room) < 0)
        return -1;
    if (with_latency) {
        /* The current second (still filling) and the WINDOW before it. */
        long long now = lg_wall_ms() / 1000;
        for (int i = 0; i < NLAT; i++)
            if (lg_key_stats_latency(keys[nkeys], LG_KEY_MAX, room, now - i) >= 0)
                nkeys++;
    }
    char stale[16];
    snprintf(stale, sizeof(stale), "%d", LG_STATS_CONN_STALE_MS);
    const char *args[NFIXED + NLAT + 2];
    for (int i = 0; i < nkeys; i++)
        args[i] = keys[i];
    args[nkeys] = stale;
    args[nkeys + 1] = LG_GROUP_VALIDATORS;
    struct read_ctx *ctx = malloc(sizeof(*ctx));
    if (!ctx)
        return -1;
    ctx->fn = fn;
    ctx->arg = arg;
    if (lg_script_call(r, &lg_script_stats_read, on_read, ctx, nkeys, nkeys + 2, args, NULL) != 0) {
        free(ctx);
        return -1;
    }
    return 0;
}

/* ---- reading several rooms into one view ---------------------------------- */

struct rooms_read {
    struct lg_redis *r;
    size_t max_rooms;
    bool with_latency;
    lg_stats_read_fn fn;
    void *arg;
    int pending; /* reads in flight, plus one held while reads are being sent */
    bool failed;
    struct lg_stats_view view;
};

static void rooms_step(struct rooms_read *rr)
{
    if (--rr->pending > 0)
        return;
    rr->fn(rr->failed ? NULL : &rr->view, rr->arg);
    free(rr);
}

static void on_room_view(const struct lg_stats_view *v, void *arg)
{
    struct rooms_read *rr = arg;
    if (v)
        lg_stats_view_merge(&rr->view, v);
    else
        rr->failed = true;
    rooms_step(rr);
}

static void read_one_room(struct rooms_read *rr, const char *room)
{
    rr->pending++;
    if (lg_stats_read(rr->r, room, rr->with_latency, on_room_view, rr) != 0) {
        rr->pending--;
        rr->failed = true;
    }
}

static void on_room_members(redisReply *reply, void *arg)
{
    struct rooms_read *rr = arg;
    if (!reply || reply->type != REDIS_REPLY_ARRAY) {
        rr->failed = true;
    } else {
        for (size_t i = 0; i < reply->elements && i < rr->max_rooms && !rr->failed; i++) {
            const char *room = reply->element[i]->str;
            if (room && lg_text_is_id(room, strlen(room)))
                read_one_room(rr, room);
        }
    }
    rooms_step(rr);
}

int lg_stats_read_rooms(struct lg_redis *r, const char *room, size_t max_rooms, bool with_latency,
                        lg_stats_read_fn fn, void *arg)
{
    struct rooms_read *rr = malloc(sizeof(*rr));
    if (!rr)
        return -1;
    *rr = (struct rooms_read){.r = r,
                              .max_rooms = max_rooms,
                              .with_latency = with_latency,
                              .fn = fn,
                              .arg = arg,
                              .pending = 1};
    lg_stats_view_init(&rr->view);
    if (strcmp(room, "*") == 0) {
        /* The rooms in use, newest activity first: a room with a backlog is
         * never pruned from the index, and a long-closed one costs nothing. */
        char last[24];
        snprintf(last, sizeof(last), "%zu", max_rooms ? max_rooms - 1 : 0);
        const char *argv[] = {"ZRANGE", LG_KEY_ROOMS_ACTIVE, "0", last, "REV"};
        rr->pending++; /* released by on_room_members, after it sent the room reads */
        if (lg_redis_argv(r, on_room_members, rr, 5, argv, NULL) != 0)
            rr->pending--;
    } else {
        read_one_room(rr, room);
    }
    if (rr->pending == 1) { /* nothing went out: the caller answers at once */
        free(rr);
        return -1;
    }
    rooms_step(rr);
    return 0;
}
