/* keys.h - the Redis key layout, in one place. Every key of a room carries
 * the room as its hash tag ("lg:{room}:..."), so all keys one script touches
 * live in one Redis Cluster slot and the scripts run unchanged on a cluster.
 * Three kinds of key are outside a room: the room registry (LG_KEY_ROOMS)
 * and the order-id index (tagged by the order id), which no script touches,
 * and each gateway's reply stream (tagged by the gateway id), which only
 * reply.lua writes, one stream per call. Channels are not keys (see
 * below). See docs/STORAGE.md. */
#ifndef LG_QUEUE_KEYS_H
#define LG_QUEUE_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#define LG_KEY_MAX 256

/* Set of every room that has been configured or has received an order. */
#define LG_KEY_ROOMS "lg:rooms"
/* The rooms in use (sorted set: room -> Redis time in ms of its last
 * activity): marked by gateways (room_touch.lua) on PUT of the room and on
 * its orders, pruned by validators once a room is idle or closed and its
 * streams are drained (room_prune.lua). Validators and the statistics
 * walk this, not lg:rooms. */
#define LG_KEY_ROOMS_ACTIVE "lg:rooms:active"
/* Set once the rooms of lg:rooms were copied into the index (by the first
 * validator of a deployment that predates it, see validator/rooms.c). */
#define LG_KEY_ROOMS_SEEDED "lg:rooms:seeded"

/* The consumer group of the validators on every priority stream. Not a key,
 * but the gateway's statistics read the group's backlog by this name. */
#define LG_GROUP_VALIDATORS "lg-validators"

/* Each writes a NUL-terminated key into buf and returns its length, or -1
 * when it does not fit (never with IDs that pass the ID rules). */
int lg_key_room(char *buf, size_t n, const char *room);
int lg_key_sku(char *buf, size_t n, const char *room, const char *sku);
int lg_key_sku_set(char *buf, size_t n, const char *room);
int lg_key_coupon(char *buf, size_t n, const char *room, const char *coupon);
int lg_key_order(char *buf, size_t n, const char *room, const char *order_id);
/* '/' cannot occur in an ID, so user "a:b" + order "c" and user "a" +
 * order "b:c" never collide. */
int lg_key_idem(char *buf, size_t n, const char *room, const char *user,
                const char *client_order_id);
int lg_key_stream(char *buf, size_t n, const char *room, bool high);
/* order id -> room, so /v1/orders/{id} and order.update find an order. */
int lg_key_order_index(char *buf, size_t n, const char *order_id);
/* Users who have used a coupon (each may use it once). */
int lg_key_coupon_users(char *buf, size_t n, const char *room, const char *coupon);
/* A buyer's live quantity per SKU (hash sku_id -> qty), capped by limit_per_user. */
int lg_key_user_live(char *buf, size_t n, const char *room, const char *user);
/* Entries delivered too many times, kept for inspection. */
int lg_key_dead_letter(char *buf, size_t n, const char *room);
/* The room's audit trail of order.update (stream, capped; see transition.lua). */
int lg_key_audit(char *buf, size_t n, const char *room);
/* Results on their way to one gateway process. */
int lg_key_reply_stream(char *buf, size_t n, const char *gateway_id);
/* Room-wide statistics (see stats.h): totals since the room opened, each
 * gateway's live connection count, and one latency-bucket hash per second. */
int lg_key_stats(char *buf, size_t n, const char *room);
int lg_key_stats_conns(char *buf, size_t n, const char *room);
int lg_key_stats_latency(char *buf, size_t n, const char *room, long long unix_second);
/* The Pub/Sub channel of a room's monitor.order feed (not a key: no script
 * touches it, but it is spelled here like everything else). Room "*" gives
 * the pattern of every room's feed. */
int lg_chan_feed(char *buf, size_t n, const char *room);
/* Present (with a short TTL) while some gateway has a monitor watching the
 * room or every room; enqueue.lua and validate.lua publish to the room's
 * feed only while it exists, so an unwatched room pays nothing for it. */
int lg_key_feed_watched(char *buf, size_t n, const char *room);
/* The room's load, the view admission decides from (a hash): "high" and
 * "normal" count the orders accepted and not yet decided (enqueue.lua adds,
 * validate.lua and expire.lua take off, never below 0); "rate" is the
 * validators' measured drain rate (decisions a second while busy), with
 * the bookkeeping validate.lua keeps for it. */
int lg_key_room_load(char *buf, size_t n, const char *room);
/* A user's token bucket of order.submit in the room (enqueue.lua): the
 * string "milli-tokens|ms", expiring once it would be full again. */
int lg_key_user_rate(char *buf, size_t n, const char *room, const char *user);
/* The deadline sweep's state (a hash, see expire.lua): which gateway holds
 * the room's sweep until when, and per priority stream the id up to which
 * every entry is decided. */
int lg_key_room_sweep(char *buf, size_t n, const char *room);
/* Coalescing gate of a SKU's sku.update: set (PX 1000) by sku_notify.lua
 * when it publishes; holds the state that publish carried. */
int lg_key_sku_gate(char *buf, size_t n, const char *room, const char *sku);
/* The room's payment due index (sorted set, score pay_deadline_ms, member
 * order id): validate.lua adds a confirmed order, transition.lua removes it
 * when paid or cancelled, pay_timeout.lua cancels what falls due. */
int lg_key_pay_due(char *buf, size_t n, const char *room);
/* Present while a DELETE of the room is under way (room_delete.lua): the
 * id of that deletion, with a TTL its gateway renews. */
int lg_key_room_deleting(char *buf, size_t n, const char *room);
/* The SCAN pattern of every key of the room ("lg:{room}:*"): IDs hold no
 * glob character, so the pattern matches the room's keys only. */
int lg_key_room_pattern(char *buf, size_t n, const char *room);
/* Whether a key SCAN found under the room's pattern goes when the room is
 * deleted before room_delete.lua's last step: its catalog (SKUs, coupons,
 * their gates and users), its buyers' live quantities and rate buckets,
 * latency seconds. Order records and idempotency keys stay until their
 * TTL (the orders stay readable and a late resubmit stays a duplicate);
 * the fixed keys go in the script's last step. */
bool lg_key_goes_with_room(const char *room, const char *key);

/* Pub/Sub channels (see gateway/features/bus.h and docs/STORAGE.md). Channels are not
 * keys and carry no hash tag: Redis Cluster broadcasts every PUBLISH. */
#define LG_CHAN_STATUS "lg:ev:status" /* an order changed status (order.update) */
#define LG_CHAN_SKU "lg:ev:sku"       /* a SKU's public state, from sku_notify.lua */
/* The subscribe-mode heartbeat of one connection; nobody publishes to it. */
int lg_chan_heartbeat(char *buf, size_t n, const char *conn_name);

/* Parses a priority stream key back into its room and priority; -1 when key
 * is not one. */
int lg_key_parse_stream(const char *key, char *room, size_t roomsz, bool *high);

#endif
