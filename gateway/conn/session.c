/* session.c - a WebSocket connection (see session.h): its send queue, its
 * close, its holds and its places in the gateway's indexes. Nothing here
 * knows what a message means: that is dispatch.c's, reached through
 * gw->session_hooks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conn/session.h"
#include "livegate/log.h"
#include "stats.h"

#define CLOSE_AUTH_TIMEOUT 4408

/* The sessions sharing one key of an index, newest first. The index map
 * holds it under its key; it is freed when its last session leaves. */
struct lg_session_bucket {
    struct lg_list sessions; /* lg_session_link.node */
    char key[];
};

void lg_session_set_hooks(struct lg_gateway *gw, const struct lg_session_hooks *hooks)
{
    gw->session_hooks = hooks;
}

static void on_auth_timeout(lws_sorted_usec_list_t *sul)
{
    struct lg_session *s = lws_container_of(sul, struct lg_session, auth_timer);
    if (s->state == LG_SESSION_AUTH)
        lg_session_close(s, CLOSE_AUTH_TIMEOUT, "auth timeout");
}

struct lg_session *lg_session_new(struct lg_gateway *gw, struct lws *wsi, const char *peer)
{
    struct lg_session *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->gw = gw;
    s->wsi = wsi;
    s->state = LG_SESSION_AUTH;
    lg_list_init(&s->out);
    lg_list_init(&s->waiters);
    lg_list_init(&s->holds);
    lg_list_init(&s->node);
    lg_list_init(&s->write_soon);
    lg_list_init(&s->by_user.node);
    lg_list_init(&s->by_room.node);
    snprintf(s->peer, sizeof(s->peer), "%s", peer);
    snprintf(s->id, sizeof(s->id), "%.40s.%llu", gw->cfg.gateway_id,
             (unsigned long long)++gw->next_session_id);
    lws_sul_schedule(lws_get_context(wsi), 0, &s->auth_timer, on_auth_timeout,
                     (lws_usec_t)LG_AUTH_TIMEOUT_MS * LWS_US_PER_MS);
    return s;
}

/* ---- the indexes ------------------------------------------------------- */

static void user_key(char *out, size_t n, const char *room, const char *user)
{
    snprintf(out, n, "%s/%s", room, user);
}

static struct lg_session *session_of(struct lg_list *q, bool by_user)
{
    return by_user ? lg_list_entry(q, struct lg_session, by_user.node)
                   : lg_list_entry(q, struct lg_session, by_room.node);
}

static struct lg_session *first_of(struct lg_strmap *map, const char *key, bool by_user)
{
    struct lg_session_bucket *b = lg_strmap_get(map, key);
    struct lg_list *q = b ? lg_list_first(&b->sessions) : NULL;
    return q ? session_of(q, by_user) : NULL;
}

static struct lg_session *next_of(const struct lg_session_link *l, bool by_user)
{
    if (!l->bucket)
        return NULL;
    struct lg_list *q = lg_list_next(&l->bucket->sessions, &l->node);
    return q ? session_of(q, by_user) : NULL;
}

/* Newest first, as the fan-outs have always walked them. */
static void index_link(struct lg_strmap *map, const char *key, struct lg_session_link *l)
{
    struct lg_session_bucket *b = lg_strmap_get(map, key);
    if (!b) {
        size_t n = strlen(key) + 1;
        b = malloc(sizeof(*b) + n);
        if (!b)
            return;
        lg_list_init(&b->sessions);
        memcpy(b->key, key, n);
        if (lg_strmap_put(map, b->key, b) != 0) {
            free(b);
            return;
        }
    }
    lg_list_insert_head(&b->sessions, &l->node);
    l->bucket = b;
}

static void index_unlink(struct lg_strmap *map, struct lg_session_link *l)
{
    struct lg_session_bucket *b = l->bucket;
    if (!b)
        return;
    lg_list_remove(&l->node);
    l->bucket = NULL;
    if (lg_list_empty(&b->sessions)) {
        lg_strmap_del(map, b->key);
        free(b);
    }
}

struct lg_session *lg_session_find_user(struct lg_gateway *gw, const char *room, const char *user)
{
    char key[2 * LG_ID_MAX + 2];
    user_key(key, sizeof(key), room, user);
    return first_of(gw->sessions_by_user, key, true);
}

struct lg_session *lg_session_user_next(const struct lg_session *s)
{
    return next_of(&s->by_user, true);
}

struct lg_session *lg_session_find_room(struct lg_gateway *gw, const char *room)
{
    return first_of(gw->sessions_by_room, room, false);
}

struct lg_session *lg_session_room_next(const struct lg_session *s)
{
    return next_of(&s->by_room, false);
}

/* The room's live connection count, reported to the room's statistics.
 * Tokens for "*" belong to no room. */
static void count_connection(struct lg_session *s, long delta)
{
    if (strcmp(s->claims.room, "*") == 0)
        return;
    struct lg_stats_delta *d = lg_stats_room(s->gw->stats, s->claims.room);
    if (d)
        d->connections += delta;
}

/* Results are pushed to every connection of the buyer on this gateway;
 * sku.update goes to every viewer of the room. */
void lg_session_authenticated(struct lg_session *s, const struct lg_claims *claims)
{
    lws_sul_cancel(&s->auth_timer);
    s->claims = *claims;
    s->state = LG_SESSION_READY;
    char key[2 * LG_ID_MAX + 2];
    user_key(key, sizeof(key), s->claims.room, s->claims.sub);
    index_link(s->gw->sessions_by_user, key, &s->by_user);
    count_connection(s, +1);
    if (s->claims.role == LG_ROLE_VIEWER)
        index_link(s->gw->sessions_by_room, s->claims.room, &s->by_room);
}

/* ---- holds ---------------------------------------------------------------- */

void lg_session_hold_open(struct lg_session *s, struct lg_session_hold *h, const char *order_id)
{
    h->order_id = order_id;
    h->result = NULL;
    lg_list_insert_tail(&s->holds, &h->node);
}

struct lg_frame *lg_session_hold_close(struct lg_session_hold *h)
{
    if (h->node.next)
        lg_list_remove(&h->node);
    struct lg_frame *result = h->result;
    h->result = NULL;
    return result;
}

bool lg_session_hold_result(struct lg_session *s, const char *order_id, struct lg_frame *f)
{
    for (struct lg_list *q = s->holds.next; q != &s->holds; q = q->next) {
        struct lg_session_hold *h = lg_list_entry(q, struct lg_session_hold, node);
        if (strcmp(h->order_id, order_id) == 0) {
            if (!h->result && f)
                h->result = lg_frame_ref(f);
            return true;
        }
    }
    return false;
}

/* The holders keep their results; they only stop being found. */
static void orphan_holds(struct lg_session *s)
{
    while (!lg_list_empty(&s->holds))
        lg_list_remove(s->holds.next);
}

/* ---- the send queue ---------------------------------------------------- */

void lg_session_out_free(struct lg_session_out *f)
{
    lg_frame_unref(f->frame);
    free(f);
}

void lg_session_free(struct lg_session *s)
{
    if (s->gw->session_hooks && s->gw->session_hooks->on_close)
        s->gw->session_hooks->on_close(s);
    if (s->by_user.bucket)
        count_connection(s, -1);
    index_unlink(s->gw->sessions_by_user, &s->by_user);
    index_unlink(s->gw->sessions_by_room, &s->by_room);
    lws_sul_cancel(&s->auth_timer);
    lws_sul_cancel(&s->close_timer);
    lws_sul_cancel(&s->slow_timer);
    lg_list_remove(&s->write_soon);
    lg_waiter_orphan_all(&s->waiters);
    orphan_holds(s);
    struct lg_session_out *f;
    while ((f = lg_session_next_frame(s)))
        lg_session_out_free(f);
    free(s->rx);
    free(s->turns);
    free(s);
}

void lg_session_receive(struct lg_session *s, const char *text, size_t len)
{
    if (s->state == LG_SESSION_CLOSING)
        return;
    s->gw->counters[LG_CTR_FRAMES_IN]++;
    if (s->gw->session_hooks && s->gw->session_hooks->on_message)
        s->gw->session_hooks->on_message(s, text, len);
}

/* A session is congested from the moment its queue has no room under the
 * soft cap for a frame (queued anyway if it matters, refused if optional)
 * until it has drained to half of it; the gap keeps a client reading at
 * about the rate of its frames from arming and cancelling the timer on
 * every frame. The timer, not a check per frame, sees the time pass: a
 * client that stops reading gets no frame written, and an optional frame
 * refused queues nothing. */
static void on_slow_timeout(lws_sorted_usec_list_t *sul)
{
    struct lg_session *s = lws_container_of(sul, struct lg_session, slow_timer);
    if (s->congested)
        lg_session_drop(s, "send queue at its soft cap too long");
    else if (s->state == LG_SESSION_CLOSING)
        lg_session_drop(s, "close not through in time");
}

static void arm_slow_timer(struct lg_session *s)
{
    lws_sul_schedule(lws_get_context(s->wsi), 0, &s->slow_timer, on_slow_timeout,
                     (lws_usec_t)s->gw->cfg.slow_client_ms * LWS_US_PER_MS);
}

static void begin_congestion(struct lg_session *s)
{
    if (s->congested || s->dropped)
        return;
    s->congested = true;
    lg_log(LG_LOG_INFO, "session.slow",
           json_pack("{s:s,s:s,s:I,s:i}", "session", s->id, "peer", s->peer, "queued",
                     (json_int_t)s->out_bytes, "drop_after_ms", s->gw->cfg.slow_client_ms));
    if (s->state != LG_SESSION_CLOSING) /* a closing session's deadline runs already */
        arm_slow_timer(s);
}

static void end_congestion_if_drained(struct lg_session *s)
{
    if (!s->congested || s->out_bytes > LG_SESSION_SOFT_QUEUED_BYTES / 2)
        return;
    s->congested = false;
    if (s->state != LG_SESSION_CLOSING)
        lws_sul_cancel(&s->slow_timer);
}

static void queue_frame(struct lg_session *s, struct lg_frame *f)
{
    struct lg_session_out *node = malloc(sizeof(*node));
    if (!node)
        return;
    node->frame = lg_frame_ref(f);
    lg_list_insert_tail(&s->out, &node->node);
    s->out_bytes += f->len;
    if (s->out_bytes > LG_SESSION_SOFT_QUEUED_BYTES)
        begin_congestion(s);
    lg_session_write_soon(s);
}

void lg_session_send_frame(struct lg_session *s, struct lg_frame *f)
{
    if (!f || s->dropped)
        return;
    if (s->out_bytes + f->len > LG_SESSION_MAX_QUEUED_BYTES) {
        lg_session_drop(s, "send queue full");
        return;
    }
    queue_frame(s, f);
}

bool lg_session_send_optional(struct lg_session *s, struct lg_frame *f)
{
    if (!f || s->state == LG_SESSION_CLOSING || s->dropped)
        return false;
    if (s->out_bytes + f->len > LG_SESSION_SOFT_QUEUED_BYTES) {
        begin_congestion(s);
        return false;
    }
    queue_frame(s, f);
    return true;
}

void lg_session_send(struct lg_session *s, json_t *msg)
{
    struct lg_frame *f = lg_frame_from_json(msg);
    lg_session_send_frame(s, f);
    lg_frame_unref(f);
}

void lg_session_send_copy(struct lg_session *s, const char *text, size_t len)
{
    struct lg_frame *f = len ? lg_frame_new(text, len) : NULL;
    lg_session_send_frame(s, f);
    lg_frame_unref(f);
}

int lg_session_send_text(struct lg_session *s, const char *text, size_t len, size_t max_queued)
{
    if (s->state == LG_SESSION_CLOSING || len == 0 || s->out_bytes + len > max_queued)
        return -1;
    struct lg_frame *f = lg_frame_new(text, len);
    if (!f)
        return -1;
    bool queued = lg_session_send_optional(s, f);
    lg_frame_unref(f);
    return queued ? 0 : -1;
}

static void on_write_idle(uv_idle_t *h)
{
    (void)h; /* only keeps the loop's next poll from blocking */
}

void lg_session_write_soon(struct lg_session *s)
{
    struct lg_gateway *gw = s->gw;
    if (lg_list_linked(&s->write_soon) || s->write_asked)
        return;
    if (!gw->write_soon_on) {
        lg_session_want_write(s); /* no end-of-turn write (a test, the shutdown) */
        return;
    }
    if (lg_list_empty(&gw->write_soon))
        uv_idle_start(&gw->write_idle, on_write_idle);
    lg_list_insert_tail(&gw->write_soon, &s->write_soon);
}

/* Only a request lws took counts: one refused (a socket going away) is
 * asked again by the next frame, as before. */
void lg_session_want_write(struct lg_session *s)
{
    if (s->write_asked)
        return;
    if (lws_callback_on_writable(s->wsi) > 0)
        s->write_asked = true;
}

void lg_session_write_called(struct lg_session *s)
{
    s->write_asked = false;
}

bool lg_session_has_output(const struct lg_session *s)
{
    return !lg_list_empty(&s->out);
}

const struct lg_frame *lg_session_peek_frame(const struct lg_session *s)
{
    struct lg_list *q = lg_list_first(&s->out);
    return q ? lg_list_entry(q, struct lg_session_out, node)->frame : NULL;
}

struct lg_session_out *lg_session_next_frame(struct lg_session *s)
{
    struct lg_list *q = lg_list_first(&s->out);
    if (!q)
        return NULL;
    lg_list_remove(q);
    struct lg_session_out *f = lg_list_entry(q, struct lg_session_out, node);
    s->out_bytes -= f->frame->len;
    end_congestion_if_drained(s);
    return f;
}

void lg_session_close(struct lg_session *s, int code, const char *reason)
{
    if (s->state == LG_SESSION_CLOSING)
        return;
    s->state = LG_SESSION_CLOSING;
    s->close_code = code;
    snprintf(s->close_reason, sizeof(s->close_reason), "%s", reason);
    /* The close frame goes after the queue, to a client that may not read
     * it: past the deadline the socket is dropped. A congested session
     * keeps the deadline it has. */
    if (!s->congested)
        arm_slow_timer(s);
    lg_session_want_write(s);
}

/* A linger of 0 makes the kernel answer the close with a reset and free
 * the socket with its unsent bytes; a plain close would leave it orphaned,
 * retransmitting into the peer's closed window for minutes. The 0 s lws
 * timeout is a "violent" close in lws 4.1 (core-net/wsi-timeout.c marks
 * the socket unusable): no flush of lws's buffered bytes, no close frame
 * and no wait for its answer, each of which would wait on a client that
 * does not read. */
void lg_session_drop(struct lg_session *s, const char *why)
{
    if (s->dropped)
        return;
    s->dropped = true;
    s->state = LG_SESSION_CLOSING;
    s->congested = false;
    lws_sul_cancel(&s->slow_timer);
    lg_log(LG_LOG_WARN, "session.dropped",
           json_pack("{s:s,s:s,s:s,s:I}", "session", s->id, "peer", s->peer, "why", why, "queued",
                     (json_int_t)s->out_bytes));
    lws_sockfd_type fd = lws_get_socket_fd(s->wsi);
    if (fd >= 0) {
        struct linger hard = {.l_onoff = 1, .l_linger = 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
    }
    lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_REASON_BASE, LWS_TO_KILL_ASYNC);
}
