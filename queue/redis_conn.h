/* redis_conn.h - one pipelined hiredis async connection on a libuv loop,
 * kept alive across Redis restarts.
 *
 * Why a wrapper: hiredis 0.14 has no command timeout and no reconnect. A
 * stalled Redis must not leave a viewer waiting forever, and a restarted one
 * must be picked up again without dropping the viewers' WebSockets. So every
 * command is tracked; one left unanswered past the timeout tears the
 * connection down (every pending callback then gets a NULL reply) and a new
 * one is made with exponential backoff. Host names are resolved with
 * uv_getaddrinfo so the loop never blocks on DNS. */
#ifndef LG_QUEUE_REDIS_CONN_H
#define LG_QUEUE_REDIS_CONN_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "livegate/config.h"

struct lg_redis;

/* reply is NULL when the connection was lost or timed out before an answer.
 * It is owned by hiredis and valid only during the call. */
typedef void (*lg_redis_reply_fn)(redisReply *reply, void *arg);
/* Called each time the connection becomes usable (up=true) or is lost. */
typedef void (*lg_redis_state_fn)(struct lg_redis *r, bool up, void *arg);

struct lg_redis *lg_redis_new(uv_loop_t *loop, const struct lg_redis_url *url, const char *name,
                              int timeout_ms);
void lg_redis_on_state(struct lg_redis *r, lg_redis_state_fn fn, void *arg);
/* Starts connecting; reconnects by itself from then on. */
void lg_redis_start(struct lg_redis *r);
bool lg_redis_is_up(const struct lg_redis *r);

/* Sends a command. Returns 0 when it was queued (fn will be called exactly
 * once), or -1 when Redis is not connected (fn is not called). */
int lg_redis_argv(struct lg_redis *r, lg_redis_reply_fn fn, void *arg, int argc, const char **argv,
                  const size_t *lens);

/* ---- subscribe mode (Pub/Sub) ---------------------------------------------
 * A connection that subscribes cannot carry ordinary commands, and hiredis
 * keeps calling a subscription's callback for every message, so subscribe
 * traffic is not tracked as calls and the command timeout does not apply to
 * it. Liveness is checked instead by a heartbeat: once a second the
 * connection re-subscribes to heartbeat_channel (a channel nobody publishes
 * to), and a confirmation missing for longer than the timeout, with nothing
 * else arriving either, drops the connection like a stalled command would (a
 * heartbeat queued behind a burst of messages is late, not lost). PING cannot
 * be used: hiredis 0.14 files its subscribe-mode reply under the wrong
 * callback.
 *
 * Call before lg_redis_start. From then on lg_redis_argv refuses ordinary
 * commands once the connection is up, and fn receives every Pub/Sub reply
 * (subscribe/unsubscribe confirmations, message, pmessage) except the
 * heartbeat's, as the array hiredis parsed. Subscriptions do not survive a
 * reconnect: re-send them from the state callback. */
void lg_redis_set_subscriber(struct lg_redis *r, const char *heartbeat_channel,
                             lg_redis_reply_fn fn, void *arg);

/* Sends command ("SUBSCRIBE", "PSUBSCRIBE", "UNSUBSCRIBE" or "PUNSUBSCRIBE")
 * for one channel on a subscriber connection. Returns 0 when it was sent, -1
 * when the connection is not up (nothing is sent). */
int lg_redis_pubsub(struct lg_redis *r, const char *command, const char *channel);

/* A reply callback for fire-and-forget commands: failures still show in
 * the connection's counters. */
void lg_redis_ignore_reply(redisReply *reply, void *arg);

/* Commands sent and not yet answered. */
size_t lg_redis_in_flight(const struct lg_redis *r);

/* Counters for metrics and tests. */
struct lg_redis_stats {
    unsigned long long commands;
    unsigned long long errors;     /* error replies */
    unsigned long long failures;   /* NULL replies: lost or timed out */
    unsigned long long reconnects; /* successful connections after the first */
};
void lg_redis_get_stats(const struct lg_redis *r, struct lg_redis_stats *out);

/* Closes the connection (pending callbacks get NULL) and frees r once its
 * libuv handles are closed; keep running the loop until then. */
void lg_redis_close(struct lg_redis *r);

#endif
