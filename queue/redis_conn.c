/* redis_conn.c - a self-healing hiredis async connection (see redis_conn.h
 * for why). Replies on one connection come back in the order commands were
 * sent, so the oldest unanswered command is always the head of the call list
 * and one periodic check finds a stalled server. A subscriber connection has
 * no calls after its handshake; the same check watches its heartbeat. */
#include <arpa/inet.h>
#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/sds.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "livegate/clock.h"
#include "livegate/list.h"
#include "livegate/log.h"
#include "redis_conn.h"
#include "resp.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
#define WATCHDOG_MS 100
#define EARLY_WRITE_BYTES (64 * 1024)
#define HEARTBEAT_MAX_EVERY_MS 1000

enum conn_state { ST_IDLE, ST_RESOLVING, ST_CONNECTING, ST_HANDSHAKE, ST_UP };

struct call {
    struct lg_list link; /* on lg_redis.calls, oldest first */
    struct lg_redis *r;
    lg_redis_reply_fn fn;
    void *arg;
    int64_t sent_ms;
};

struct lg_redis {
    uv_loop_t *loop;
    struct lg_redis_url url;
    char name[64];
    int timeout_ms;

    redisAsyncContext *ac;
    enum conn_state state;
    int64_t state_since_ms;
    bool handshake_failed;
    bool ever_up;
    bool announced_up; /* the state callback was told "up" and not yet "down" */
    bool closing;
    int backoff_ms;

    uv_timer_t retry_timer;
    uv_timer_t watchdog;
    uv_getaddrinfo_t gai;
    bool gai_active;
    int open_handles;

    struct lg_list calls; /* unanswered commands, in the order sent */
    size_t in_flight;
    int64_t last_reply_ms; /* when Redis last answered anything */
    int64_t reply_seen_ms; /* last_reply_ms as the watchdog last saw it */
    int silent_ticks;      /* watchdog ticks in a row with a call waiting and no reply */
    lg_redis_state_fn state_fn;
    void *state_arg;
    struct lg_redis_stats stats;

    /* subscribe mode: see lg_redis_set_subscriber */
    bool subscriber;
    char heartbeat_channel[128];
    lg_redis_reply_fn sub_fn;
    void *sub_arg;
    bool heartbeat_pending;
    int64_t heartbeat_sent_ms;
    int64_t pubsub_rx_ms; /* when the last Pub/Sub reply arrived */

    /* Where each command is formatted (resp.h) before hiredis copies it
     * into its output buffer; owned by r, kept at the largest size needed. */
    char *cmd_buf;
    size_t cmd_cap;
};

static void begin_connect(struct lg_redis *r);

static void set_state(struct lg_redis *r, enum conn_state st)
{
    r->state = st;
    r->state_since_ms = lg_mono_ms();
}

static void log_redis(enum lg_log_level level, struct lg_redis *r, const char *event,
                      const char *detail)
{
    lg_log(level, event,
           json_pack("{s:s,s:s,s:i,s:s}", "conn", r->name, "host", r->url.host, "port", r->url.port,
                     "detail", detail ? detail : ""));
}

static void maybe_free(struct lg_redis *r)
{
    if (r->closing && r->open_handles == 0 && !r->gai_active && !r->ac) {
        free(r->cmd_buf);
        free(r);
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    struct lg_redis *r = h->data;
    r->open_handles--;
    maybe_free(r);
}

static void announce_down(struct lg_redis *r)
{
    if (!r->announced_up)
        return;
    r->announced_up = false;
    if (r->state_fn)
        r->state_fn(r, false, r->state_arg);
}

static void on_retry_timer(uv_timer_t *t)
{
    begin_connect(t->data);
}

static void schedule_retry(struct lg_redis *r)
{
    set_state(r, ST_IDLE);
    if (r->closing)
        return;
    uv_timer_start(&r->retry_timer, on_retry_timer, (uint64_t)r->backoff_ms, 0);
    r->backoff_ms = r->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : r->backoff_ms * 2;
}

/* ---- call tracking ---------------------------------------------------- */

static void on_call_reply(redisAsyncContext *ac, void *reply_ptr, void *privdata)
{
    (void)ac;
    struct call *c = privdata;
    struct lg_redis *r = c->r;
    redisReply *reply = reply_ptr;
    lg_list_remove(&c->link);
    r->in_flight--;
    if (reply)
        r->last_reply_ms = lg_mono_ms();
    if (!reply)
        r->stats.failures++;
    else if (reply->type == REDIS_REPLY_ERROR)
        r->stats.errors++;
    c->fn(reply, c->arg);
    free(c);
}

/* hiredis writes its output buffer only when the loop next polls the
 * socket. A gateway handling a burst can spend a long time in one poll phase
 * turning WebSocket frames into commands, and Redis would sit idle all that
 * while (seen under ASan: seconds of 20,000 queued orders, Redis idle, then
 * the watchdog). So once a pipeline is long enough, write what the socket
 * takes now. redisBufferWrite only writes: an error stays in the context
 * and is handled by hiredis on the next event, outside the caller. */
static void write_early(struct lg_redis *r)
{
    if (sdslen(r->ac->c.obuf) < EARLY_WRITE_BYTES)
        return;
    int done = 0;
    redisBufferWrite(&r->ac->c, &done);
}

void lg_redis_ignore_reply(redisReply *reply, void *arg)
{
    (void)reply;
    (void)arg;
}

/* Formats the command into r->cmd_buf, grown to fit; its length, or 0 on
 * OOM. */
static size_t format_command(struct lg_redis *r, int argc, const char **argv, const size_t *lens)
{
    size_t len = lg_resp_command_len(argc, argv, lens);
    if (len > r->cmd_cap) {
        char *grown = realloc(r->cmd_buf, len);
        if (!grown)
            return 0;
        r->cmd_buf = grown;
        r->cmd_cap = len;
    }
    return lg_resp_command(r->cmd_buf, argc, argv, lens);
}

static int send_tracked(struct lg_redis *r, lg_redis_reply_fn fn, void *arg, int argc,
                        const char **argv, const size_t *lens)
{
    size_t len = format_command(r, argc, argv, lens);
    struct call *c = len ? malloc(sizeof(*c)) : NULL;
    if (!c)
        return -1;
    c->r = r;
    c->fn = fn;
    c->arg = arg;
    c->sent_ms = lg_mono_ms();
    if (redisAsyncFormattedCommand(r->ac, on_call_reply, c, r->cmd_buf, len) != REDIS_OK) {
        free(c);
        return -1;
    }
    lg_list_insert_tail(&r->calls, &c->link);
    r->in_flight++;
    r->stats.commands++;
    write_early(r);
    return 0;
}

/* Tears the connection down at once. hiredis calls every pending callback
 * with a NULL reply and then, for a connection that was established, the
 * disconnect callback, which schedules the reconnect. */
static void drop_connection(struct lg_redis *r, const char *why)
{
    redisAsyncContext *ac = r->ac;
    if (!ac)
        return;
    log_redis(LG_LOG_WARN, r, "redis.drop", why);
    bool was_connected = (ac->c.flags & REDIS_CONNECTED) != 0;
    set_state(r, ST_IDLE); /* refuse new commands from inside the callbacks */
    redisAsyncFree(ac);
    if (!was_connected) {
        r->ac = NULL;
        announce_down(r);
        schedule_retry(r);
    }
}

/* ---- subscribe mode ---------------------------------------------------- */

static bool is_heartbeat_reply(const struct lg_redis *r, const redisReply *reply)
{
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2)
        return false;
    const redisReply *name = reply->element[1];
    return name->type == REDIS_REPLY_STRING && name->len == strlen(r->heartbeat_channel) &&
           memcmp(name->str, r->heartbeat_channel, name->len) == 0;
}

/* hiredis calls this for every Pub/Sub reply of every channel we subscribed
 * to, and once per channel with NULL when the context is freed (the state
 * callback reports that loss, so NULL is not passed on). */
static void on_pubsub_reply(redisAsyncContext *ac, void *reply_ptr, void *privdata)
{
    (void)ac;
    struct lg_redis *r = privdata;
    redisReply *reply = reply_ptr;
    if (!reply)
        return;
    r->pubsub_rx_ms = lg_mono_ms();
    if (is_heartbeat_reply(r, reply)) {
        r->heartbeat_pending = false;
        return;
    }
    if (r->sub_fn)
        r->sub_fn(reply, r->sub_arg);
}

static int send_pubsub(struct lg_redis *r, const char *command, const char *channel)
{
    const char *argv[] = {command, channel};
    if (redisAsyncCommandArgv(r->ac, on_pubsub_reply, r, 2, argv, NULL) != REDIS_OK)
        return -1;
    r->stats.commands++;
    return 0;
}

static void send_heartbeat(struct lg_redis *r, int64_t now)
{
    if (send_pubsub(r, "SUBSCRIBE", r->heartbeat_channel) == 0) {
        r->heartbeat_pending = true;
        r->heartbeat_sent_ms = now;
    }
}

static int heartbeat_every_ms(const struct lg_redis *r)
{
    int every = r->timeout_ms / 2;
    if (every < WATCHDOG_MS)
        every = WATCHDOG_MS;
    return every > HEARTBEAT_MAX_EVERY_MS ? HEARTBEAT_MAX_EVERY_MS : every;
}

static void check_heartbeat(struct lg_redis *r, int64_t now)
{
    if (r->heartbeat_pending) {
        /* A heartbeat stuck behind a backlog of messages is late, not lost:
         * the server is only stalled when nothing arrives at all. */
        if (now - r->heartbeat_sent_ms > r->timeout_ms && now - r->pubsub_rx_ms > r->timeout_ms)
            drop_connection(r, "heartbeat timed out");
        return;
    }
    if (now - r->heartbeat_sent_ms >= heartbeat_every_ms(r))
        send_heartbeat(r, now);
}

static void on_watchdog(uv_timer_t *t)
{
    struct lg_redis *r = t->data;
    int64_t now = lg_mono_ms();
    if ((r->state == ST_CONNECTING || r->state == ST_HANDSHAKE) &&
        now - r->state_since_ms > r->timeout_ms) {
        drop_connection(r, "connect timed out");
        return;
    }
    /* Silent, not slow: a Redis working through a long pipeline (a
     * 20,000-viewer burst queues seconds of scripts) answers all the while,
     * and dropping the connection then refused thousands of orders
     * UNAVAILABLE that Redis went on to queue. So the oldest call times out
     * only when nothing at all has come back for timeout_ms since it was
     * sent, and over at least two ticks of this watchdog in a row (and
     * enough to cover it): between two ticks the loop has polled the socket
     * at least once, so a process busy with its own work for a while (it
     * delays the ticks) does not drop a Redis whose replies wait unread. */
    struct lg_list *oldest_link = lg_list_first(&r->calls);
    if (!oldest_link) {
        r->silent_ticks = 0;
    } else {
        const struct call *oldest = lg_list_entry(oldest_link, struct call, link);
        if (r->last_reply_ms != r->reply_seen_ms) {
            r->reply_seen_ms = r->last_reply_ms;
            r->silent_ticks = 0;
        } else {
            r->silent_ticks++;
        }
        int64_t waited_from =
            oldest->sent_ms > r->last_reply_ms ? oldest->sent_ms : r->last_reply_ms;
        if (now - waited_from > r->timeout_ms && r->silent_ticks >= 2 &&
            (int64_t)r->silent_ticks * WATCHDOG_MS >= r->timeout_ms) {
            drop_connection(r, "command timed out");
            return;
        }
    }
    if (r->subscriber && r->state == ST_UP)
        check_heartbeat(r, now);
}

/* ---- connecting ------------------------------------------------------- */

static void on_handshake_step(redisReply *reply, void *arg)
{
    struct lg_redis *r = arg;
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        if (reply)
            log_redis(LG_LOG_ERROR, r, "redis.handshake_error", reply->str);
        r->handshake_failed = true;
    }
}

static void on_handshake_ping(redisReply *reply, void *arg)
{
    struct lg_redis *r = arg;
    on_handshake_step(reply, arg);
    if (!reply)
        return; /* the connection is already gone */
    if (r->handshake_failed) {
        drop_connection(r, "handshake failed");
        return;
    }
    set_state(r, ST_UP);
    r->backoff_ms = BACKOFF_MIN_MS;
    if (r->subscriber) {
        /* The first heartbeat also puts the connection into subscribe mode. */
        r->heartbeat_pending = false;
        r->pubsub_rx_ms = 0;
        send_heartbeat(r, lg_mono_ms());
    }
    if (r->ever_up)
        r->stats.reconnects++;
    r->ever_up = true;
    log_redis(LG_LOG_INFO, r, "redis.up", NULL);
    r->announced_up = true;
    if (r->state_fn)
        r->state_fn(r, true, r->state_arg);
}

static void send_handshake(struct lg_redis *r)
{
    r->handshake_failed = false;
    if (r->url.password[0]) {
        if (r->url.username[0]) {
            const char *argv[] = {"AUTH", r->url.username, r->url.password};
            send_tracked(r, on_handshake_step, r, 3, argv, NULL);
        } else {
            const char *argv[] = {"AUTH", r->url.password};
            send_tracked(r, on_handshake_step, r, 2, argv, NULL);
        }
    }
    if (r->url.db != 0) {
        char db[16];
        snprintf(db, sizeof(db), "%d", r->url.db);
        const char *argv[] = {"SELECT", db};
        send_tracked(r, on_handshake_step, r, 2, argv, NULL);
    }
    const char *setname[] = {"CLIENT", "SETNAME", r->name};
    send_tracked(r, on_handshake_step, r, 3, setname, NULL);
    const char *ping[] = {"PING"};
    send_tracked(r, on_handshake_ping, r, 1, ping, NULL);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct lg_redis *r = ac->data;
    if (status != REDIS_OK) {
        log_redis(LG_LOG_WARN, r, "redis.connect_failed", ac->errstr);
        r->ac = NULL; /* hiredis frees a context whose connect failed */
        schedule_retry(r);
        return;
    }
    set_state(r, ST_HANDSHAKE);
    send_handshake(r);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct lg_redis *r = ac->data;
    r->ac = NULL;
    if (status != REDIS_OK)
        log_redis(LG_LOG_WARN, r, "redis.disconnected", ac->errstr);
    set_state(r, ST_IDLE);
    announce_down(r);
    if (r->closing) {
        maybe_free(r);
        return;
    }
    schedule_retry(r);
}

/* hiredis's libuv adapter calls uv_poll_start on every addWrite, which
 * hiredis issues for every command it queues, and on every addRead, which
 * it issues after every write; uv_poll_start drops the events libuv has
 * already collected for the fd in the batch it is dispatching
 * (uv__poll_stop -> uv__platform_invalidate_fd). In a burst the WebSocket
 * callbacks that queue commands run before the Redis fd's turn in each
 * batch, so its readable event was discarded turn after turn: replies sat
 * unread in the socket for seconds (seen under ASan: ~100 KB in the receive
 * queue, one 16 KB read every second or two) and the watchdog then dropped
 * a Redis that had answered. So each of the four hooks reaches the adapter
 * only when it really changes the event mask. */
static void ev_change(void *privdata, int event, bool on, void (*adapter)(void *))
{
    redisLibuvEvents *p = privdata;
    if (((p->events & event) != 0) != on)
        adapter(privdata);
}

static void ev_add_read(void *privdata)
{
    ev_change(privdata, UV_READABLE, true, redisLibuvAddRead);
}

static void ev_del_read(void *privdata)
{
    ev_change(privdata, UV_READABLE, false, redisLibuvDelRead);
}

static void ev_add_write(void *privdata)
{
    ev_change(privdata, UV_WRITABLE, true, redisLibuvAddWrite);
}

static void ev_del_write(void *privdata)
{
    ev_change(privdata, UV_WRITABLE, false, redisLibuvDelWrite);
}

static void connect_to(struct lg_redis *r, const char *ip)
{
    redisAsyncContext *ac = redisAsyncConnect(ip, r->url.port);
    if (!ac || ac->err) {
        log_redis(LG_LOG_WARN, r, "redis.connect_failed", ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        schedule_retry(r);
        return;
    }
    ac->data = r;
    r->ac = ac;
    redisLibuvAttach(ac, r->loop);
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    set_state(r, ST_CONNECTING);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct lg_redis *r = req->data;
    r->gai_active = false;
    if (r->closing) {
        uv_freeaddrinfo(res);
        maybe_free(r);
        return;
    }
    if (status < 0 || !res) {
        log_redis(LG_LOG_WARN, r, "redis.resolve_failed", uv_strerror(status));
        uv_freeaddrinfo(res);
        schedule_retry(r);
        return;
    }
    char ip[INET6_ADDRSTRLEN] = "";
    if (res->ai_family == AF_INET6)
        uv_ip6_name((struct sockaddr_in6 *)res->ai_addr, ip, sizeof(ip));
    else
        uv_ip4_name((struct sockaddr_in *)res->ai_addr, ip, sizeof(ip));
    uv_freeaddrinfo(res);
    connect_to(r, ip);
}

static bool is_ip_literal(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

static void begin_connect(struct lg_redis *r)
{
    if (r->closing || r->ac || r->gai_active)
        return;
    if (is_ip_literal(r->url.host)) {
        connect_to(r, r->url.host);
        return;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    r->gai.data = r;
    set_state(r, ST_RESOLVING);
    if (uv_getaddrinfo(r->loop, &r->gai, on_resolved, r->url.host, NULL, &hints) == 0)
        r->gai_active = true;
    else
        schedule_retry(r);
}

/* ---- public ----------------------------------------------------------- */

struct lg_redis *lg_redis_new(uv_loop_t *loop, const struct lg_redis_url *url, const char *name,
                              int timeout_ms)
{
    struct lg_redis *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->loop = loop;
    r->url = *url;
    snprintf(r->name, sizeof(r->name), "%s", name);
    r->timeout_ms = timeout_ms;
    r->backoff_ms = BACKOFF_MIN_MS;
    lg_list_init(&r->calls);
    uv_timer_init(loop, &r->retry_timer);
    uv_timer_init(loop, &r->watchdog);
    r->retry_timer.data = r;
    r->watchdog.data = r;
    r->open_handles = 2;
    set_state(r, ST_IDLE);
    return r;
}

void lg_redis_on_state(struct lg_redis *r, lg_redis_state_fn fn, void *arg)
{
    r->state_fn = fn;
    r->state_arg = arg;
}

void lg_redis_start(struct lg_redis *r)
{
    uv_timer_start(&r->watchdog, on_watchdog, WATCHDOG_MS, WATCHDOG_MS);
    begin_connect(r);
}

bool lg_redis_is_up(const struct lg_redis *r)
{
    return r->state == ST_UP;
}

int lg_redis_argv(struct lg_redis *r, lg_redis_reply_fn fn, void *arg, int argc, const char **argv,
                  const size_t *lens)
{
    if (r->state != ST_UP || !r->ac || r->subscriber)
        return -1;
    return send_tracked(r, fn, arg, argc, argv, lens);
}

void lg_redis_set_subscriber(struct lg_redis *r, const char *heartbeat_channel,
                             lg_redis_reply_fn fn, void *arg)
{
    r->subscriber = true;
    snprintf(r->heartbeat_channel, sizeof(r->heartbeat_channel), "%s", heartbeat_channel);
    r->sub_fn = fn;
    r->sub_arg = arg;
}

int lg_redis_pubsub(struct lg_redis *r, const char *command, const char *channel)
{
    if (r->state != ST_UP || !r->ac || !r->subscriber)
        return -1;
    return send_pubsub(r, command, channel);
}

size_t lg_redis_in_flight(const struct lg_redis *r)
{
    return r->in_flight;
}

void lg_redis_get_stats(const struct lg_redis *r, struct lg_redis_stats *out)
{
    *out = r->stats;
}

void lg_redis_close(struct lg_redis *r)
{
    r->closing = true;
    uv_timer_stop(&r->retry_timer);
    uv_timer_stop(&r->watchdog);
    uv_close((uv_handle_t *)&r->retry_timer, on_handle_closed);
    uv_close((uv_handle_t *)&r->watchdog, on_handle_closed);
    if (r->gai_active)
        uv_cancel((uv_req_t *)&r->gai);
    if (r->ac) {
        redisAsyncContext *ac = r->ac;
        bool connected = (ac->c.flags & REDIS_CONNECTED) != 0;
        redisAsyncFree(ac);
        if (!connected)
            r->ac = NULL;
    }
}
