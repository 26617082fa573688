/* bus.c - Pub/Sub subscriptions of one gateway (see bus.h).
 *
 * Each channel the gateway listens to has one entry holding its local
 * subscribers and where Redis stands: not subscribed, subscribed, or an
 * UNSUBSCRIBE on its way. The last state matters because hiredis 0.14 files
 * a channel's callback by name: a SUBSCRIBE sent while the UNSUBSCRIBE's
 * confirmation is still coming would be forgotten when that confirmation
 * arrives. So a channel wanted again while leaving is re-subscribed only
 * after Redis confirmed the leave.
 *
 * Subscriber callbacks may subscribe and unsubscribe; while messages are
 * being dispatched nothing is freed, and the entries are swept afterwards. */
#include <stdlib.h>
#include <string.h>

#include "features/bus.h"
#include "core/gateway.h"
#include "keys.h"
#include "livegate/list.h"
#include "livegate/log.h"

enum chan_state { CH_OFF, CH_ON, CH_LEAVING };

struct bus_sub {
    struct lg_list node; /* on bus_channel.subs */
    lg_bus_fn fn;
    void *arg;
    unsigned refs; /* 0: unsubscribed during a dispatch, freed by the sweep */
};

struct bus_channel {
    struct lg_list node; /* on lg_bus.channels */
    char *name;
    bool pattern;
    enum chan_state state;
    struct lg_list subs; /* struct bus_sub, newest first */
};

struct lg_bus {
    struct lg_redis *redis;
    char heartbeat[LG_KEY_MAX];
    struct lg_strmap *by_name; /* name -> struct bus_channel */
    struct lg_list channels;   /* struct bus_channel */
    bool up;
    int dispatching;
    bool needs_sweep;
    unsigned long long messages;
};

static bool is_pattern(const char *channel)
{
    return strchr(channel, '*') != NULL;
}

static struct bus_sub *sub_of(const struct lg_list *q)
{
    return lg_list_entry(q, struct bus_sub, node);
}

static bool has_subscribers(const struct bus_channel *ch)
{
    for (const struct lg_list *q = ch->subs.next; q != &ch->subs; q = q->next)
        if (sub_of(q)->refs > 0)
            return true;
    return false;
}

static void free_channel(struct lg_bus *b, struct bus_channel *ch)
{
    lg_strmap_del(b->by_name, ch->name);
    lg_list_remove(&ch->node);
    while (!lg_list_empty(&ch->subs)) {
        struct bus_sub *s = sub_of(ch->subs.next);
        lg_list_remove(&s->node);
        free(s);
    }
    free(ch->name);
    free(ch);
}

static void prune_subs(struct bus_channel *ch)
{
    struct lg_list *q = ch->subs.next;
    while (q != &ch->subs) {
        struct lg_list *next = q->next;
        if (sub_of(q)->refs == 0) {
            lg_list_remove(q);
            free(sub_of(q));
        }
        q = next;
    }
}

static void send_pubsub(struct lg_bus *b, struct bus_channel *ch, bool subscribe)
{
    const char *cmd = subscribe ? (ch->pattern ? "PSUBSCRIBE" : "SUBSCRIBE")
                                : (ch->pattern ? "PUNSUBSCRIBE" : "UNSUBSCRIBE");
    if (lg_redis_pubsub(b->redis, cmd, ch->name) == 0)
        ch->state = subscribe ? CH_ON : CH_LEAVING;
}

/* Brings Redis in line with what the channel's subscribers want, and frees
 * a channel nobody wants that Redis no longer sends. */
static void sync_channel(struct lg_bus *b, struct bus_channel *ch)
{
    bool wanted = has_subscribers(ch);
    if (b->up && wanted && ch->state == CH_OFF)
        send_pubsub(b, ch, true);
    else if (b->up && !wanted && ch->state == CH_ON)
        send_pubsub(b, ch, false);
    if (b->dispatching) {
        b->needs_sweep = true;
        return;
    }
    prune_subs(ch);
    if (!wanted && ch->state == CH_OFF)
        free_channel(b, ch);
}

static void sync_all(struct lg_bus *b)
{
    struct lg_list *q = b->channels.next;
    while (q != &b->channels) {
        struct lg_list *next = q->next;
        sync_channel(b, lg_list_entry(q, struct bus_channel, node));
        q = next;
    }
}

static void dispatch(struct lg_bus *b, struct bus_channel *ch, const char *channel,
                     const redisReply *payload)
{
    if (payload->type != REDIS_REPLY_STRING)
        return;
    b->messages++;
    b->dispatching++;
    /* Nothing is freed while dispatching, so q stays valid; a subscriber
     * added meanwhile goes first in the list and hears the next message. */
    for (struct lg_list *q = ch->subs.next; q != &ch->subs; q = q->next) {
        struct bus_sub *s = sub_of(q);
        if (s->refs > 0)
            s->fn(channel, payload->str, payload->len, s->arg);
    }
    b->dispatching--;
    if (b->dispatching == 0 && b->needs_sweep) {
        b->needs_sweep = false;
        sync_all(b);
    }
}

static const char *element_str(const redisReply *reply, size_t i)
{
    if (i >= reply->elements || reply->element[i]->type != REDIS_REPLY_STRING)
        return NULL;
    return reply->element[i]->str;
}

/* Every Pub/Sub reply but the heartbeat's: [kind, channel or pattern, ...]. */
static void on_pubsub(redisReply *reply, void *arg)
{
    struct lg_bus *b = arg;
    if (reply->type != REDIS_REPLY_ARRAY)
        return;
    const char *kind = element_str(reply, 0);
    const char *name = element_str(reply, 1);
    if (!kind || !name)
        return;
    struct bus_channel *ch = lg_strmap_get(b->by_name, name);
    if (!ch)
        return;
    if (strcmp(kind, "message") == 0 && !ch->pattern && reply->elements >= 3) {
        dispatch(b, ch, name, reply->element[2]);
    } else if (strcmp(kind, "pmessage") == 0 && ch->pattern && reply->elements >= 4) {
        const char *channel = element_str(reply, 2);
        if (channel)
            dispatch(b, ch, channel, reply->element[3]);
    } else if ((strcmp(kind, "unsubscribe") == 0 || strcmp(kind, "punsubscribe") == 0) &&
               ch->state == CH_LEAVING) {
        ch->state = CH_OFF;
        sync_channel(b, ch);
    }
}

/* A new connection has no subscriptions: send them all again. */
static void on_bus_state(struct lg_redis *r, bool up, void *arg)
{
    (void)r;
    struct lg_bus *b = arg;
    b->up = up;
    for (struct lg_list *q = b->channels.next; q != &b->channels; q = q->next)
        lg_list_entry(q, struct bus_channel, node)->state = CH_OFF;
    sync_all(b);
    if (up)
        lg_log(LG_LOG_INFO, "bus.subscribed",
               json_pack("{s:I}", "channels", (json_int_t)lg_strmap_count(b->by_name)));
}

struct lg_bus *lg_bus_new(struct lg_gateway *gw)
{
    struct lg_bus *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->by_name = lg_strmap_new();
    lg_list_init(&b->channels);
    char conn_name[96];
    snprintf(conn_name, sizeof(conn_name), "livegate:%s:bus", gw->cfg.gateway_id);
    lg_chan_heartbeat(b->heartbeat, sizeof(b->heartbeat), conn_name);
    b->redis = lg_redis_new(gw->loop, &gw->cfg.redis, conn_name, gw->cfg.redis_timeout_ms);
    if (!b->by_name || !b->redis) {
        if (b->redis)
            lg_redis_close(b->redis);
        lg_strmap_free(b->by_name);
        free(b);
        return NULL;
    }
    lg_redis_set_subscriber(b->redis, b->heartbeat, on_pubsub, b);
    lg_redis_on_state(b->redis, on_bus_state, b);
    return b;
}

void lg_bus_start(struct lg_bus *b)
{
    lg_redis_start(b->redis);
}

void lg_bus_close(struct lg_bus *b)
{
    /* Closing reports the connection down; b is gone by then. */
    lg_redis_on_state(b->redis, NULL, NULL);
    lg_redis_set_subscriber(b->redis, b->heartbeat, NULL, NULL);
    lg_redis_close(b->redis);
    while (!lg_list_empty(&b->channels))
        free_channel(b, lg_list_entry(b->channels.next, struct bus_channel, node));
    lg_strmap_free(b->by_name);
    free(b);
}

static struct bus_channel *get_channel(struct lg_bus *b, const char *channel)
{
    struct bus_channel *ch = lg_strmap_get(b->by_name, channel);
    if (ch)
        return ch;
    ch = calloc(1, sizeof(*ch));
    if (!ch)
        return NULL;
    ch->name = strdup(channel);
    if (!ch->name || lg_strmap_put(b->by_name, channel, ch) != 0) {
        free(ch->name);
        free(ch);
        return NULL;
    }
    ch->pattern = is_pattern(channel);
    ch->state = CH_OFF;
    lg_list_init(&ch->subs);
    lg_list_insert_head(&b->channels, &ch->node);
    return ch;
}

static struct bus_sub *find_sub(struct bus_channel *ch, lg_bus_fn fn, void *arg)
{
    for (struct lg_list *q = ch->subs.next; q != &ch->subs; q = q->next)
        if (sub_of(q)->fn == fn && sub_of(q)->arg == arg)
            return sub_of(q);
    return NULL;
}

int lg_bus_subscribe(struct lg_bus *b, const char *channel, lg_bus_fn fn, void *arg)
{
    if (!b || !channel || !*channel || !fn)
        return -1;
    struct bus_channel *ch = get_channel(b, channel);
    if (!ch)
        return -1;
    struct bus_sub *s = find_sub(ch, fn, arg);
    if (!s) {
        s = calloc(1, sizeof(*s));
        if (!s) {
            sync_channel(b, ch); /* frees a channel created for nothing */
            return -1;
        }
        s->fn = fn;
        s->arg = arg;
        lg_list_insert_head(&ch->subs, &s->node);
    }
    s->refs++;
    sync_channel(b, ch);
    return 0;
}

void lg_bus_unsubscribe(struct lg_bus *b, const char *channel, lg_bus_fn fn, void *arg)
{
    if (!b || !channel)
        return;
    struct bus_channel *ch = lg_strmap_get(b->by_name, channel);
    struct bus_sub *s = ch ? find_sub(ch, fn, arg) : NULL;
    if (!s || s->refs == 0)
        return;
    s->refs--;
    sync_channel(b, ch);
}

void lg_bus_get_stats(const struct lg_bus *b, struct lg_bus_stats *out)
{
    struct lg_redis_stats rs;
    lg_redis_get_stats(b->redis, &rs);
    out->messages = b->messages;
    out->reconnects = rs.reconnects;
}
