/* ws.c - WebSocket callbacks (see ws.h). Kept thin on purpose: it knows
 * about frames and bytes; a complete message goes to lg_session_receive,
 * which hands it up to dispatch through the session hooks. */
#include <stdlib.h>
#include <string.h>

#include "livegate/log.h"
#include "rules/protocol.h"
#include "conn/session.h"
#include "conn/ws.h"

#define CLOSE_TOO_MANY 4429

int lg_ws_filter(struct lws *wsi)
{
    char uri[32];
    int n = lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI);
    return (n > 0 && strcmp(uri, "/v1/ws") == 0) ? 0 : 1;
}

static void count_peer(struct lg_gateway *gw, const char *peer, int delta, intptr_t *now)
{
    intptr_t n = (intptr_t)lg_strmap_get(gw->conns_per_ip, peer) + delta;
    if (n <= 0)
        lg_strmap_del(gw->conns_per_ip, peer);
    else
        lg_strmap_put(gw->conns_per_ip, peer, (void *)n);
    if (now)
        *now = n;
}

int lg_ws_established(struct lg_gateway *gw, struct lws *wsi, struct lg_pss *pss)
{
    char peer[64] = "";
    lws_get_peer_simple(wsi, peer, sizeof(peer));
    struct lg_session *s = lg_session_new(gw, wsi, peer);
    if (!s)
        return -1;
    pss->session = s;
    lg_list_insert_head(&gw->sessions, &s->node);
    gw->n_sessions++;

    intptr_t count;
    count_peer(gw, s->peer, +1, &count);
    if (gw->stopping)
        lg_session_close(s, LWS_CLOSE_STATUS_GOINGAWAY, "shutting down");
    else if (count > gw->cfg.max_conn_per_ip)
        lg_session_close(s, CLOSE_TOO_MANY, "too many connections from this address");
    return 0;
}

static int close_now(struct lws *wsi, enum lws_close_status code, const char *reason)
{
    lws_close_reason(wsi, code, (unsigned char *)reason, strlen(reason));
    return -1;
}

int lg_ws_receive(struct lws *wsi, struct lg_pss *pss, const void *in, size_t len)
{
    struct lg_session *s = pss->session;
    if (!s)
        return -1;
    if (lws_frame_is_binary(wsi))
        return close_now(wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, "binary frames not accepted");
    if (s->rx_len + len > LG_MAX_MESSAGE)
        return close_now(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message over 16384 bytes");

    bool final = lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0;
    if (final && s->rx_len == 0) {
        /* The common case: the whole message arrived at once; no copy. */
        lg_session_receive(s, in, len);
        return 0;
    }
    if (s->rx_len + len > s->rx_cap) {
        size_t cap = s->rx_len + len < 4096 ? 4096 : LG_MAX_MESSAGE;
        char *grown = realloc(s->rx, cap);
        if (!grown)
            return -1;
        s->rx = grown;
        s->rx_cap = cap;
    }
    memcpy(s->rx + s->rx_len, in, len);
    s->rx_len += len;
    if (final) {
        lg_session_receive(s, s->rx, s->rx_len);
        /* Idle connections should not keep a 16 KiB buffer each. */
        free(s->rx);
        s->rx = NULL;
        s->rx_len = s->rx_cap = 0;
    }
    return 0;
}

/* Runs from the lws timer list, outside any callback of this connection.
 * A synchronous kill of an established WebSocket makes lws send a close
 * frame with the reason set here and wait for the peer's answer; returning
 * -1 from the writeable callback instead would drop the socket without a
 * close frame, and the peer would see 1006 instead of our code. */
static void on_close_timer(lws_sorted_usec_list_t *sul)
{
    struct lg_session *s = lws_container_of(sul, struct lg_session, close_timer);
    struct lws *wsi = s->wsi;
    lws_close_reason(wsi, (enum lws_close_status)s->close_code, (unsigned char *)s->close_reason,
                     strlen(s->close_reason));
    lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_SYNC);
}

/* Where a writeable callback frames the session's queue: LWS_PRE bytes
 * that lws may use in front, then the frames. One buffer serves every
 * connection: the gateway's loop is its only thread, and lws copies what
 * the socket did not take before lws_write returns. */
static unsigned char write_buf[LWS_PRE + LG_WS_WRITE_MAX];

/* Moves the oldest queued frames into out, each a complete text frame,
 * while they fit in cap; returns the bytes used and counts the frames. */
static size_t frame_queue(struct lg_session *s, unsigned char *out, size_t cap, unsigned *frames)
{
    size_t used = 0;
    const struct lg_frame *f;
    while ((f = lg_session_peek_frame(s)) && lg_frame_wire_len(f) <= cap - used) {
        used += lg_frame_put_ws(out + used, f);
        lg_session_out_free(lg_session_next_frame(s));
        (*frames)++;
    }
    return used;
}

/* A frame bigger than write_buf goes alone: lws frames it in the headroom
 * of the shared buffer (see frame.h), with no copy. */
static int write_one_frame(struct lws *wsi, struct lg_session *s)
{
    struct lg_session_out *f = lg_session_next_frame(s);
    size_t len = f->frame->len;
    int n = lws_write(wsi, lg_frame_payload(f->frame), len, LWS_WRITE_TEXT);
    lg_session_out_free(f);
    if (n < (int)len)
        return -1;
    s->gw->counters[LG_CTR_FRAMES_OUT]++;
    return 0;
}

/* Writes the queue's oldest frames in one lws_write. LWS_WRITE_RAW (an
 * alias of LWS_WRITE_HTTP) on a WebSocket connection passes the bytes
 * through unchanged in lws 4.1 (roles/ws/ops-ws.c goes straight to
 * lws_issue_raw), so the frames are framed here. lws returns the whole
 * length when it buffered what the kernel did not take. */
static int write_queue(struct lws *wsi, struct lg_session *s)
{
    unsigned frames = 0;
    size_t len = frame_queue(s, write_buf + LWS_PRE, LG_WS_WRITE_MAX, &frames);
    if (frames == 0)
        return write_one_frame(wsi, s);
    if (lws_write(wsi, write_buf + LWS_PRE, len, LWS_WRITE_RAW) < (int)len)
        return -1;
    s->gw->counters[LG_CTR_FRAMES_OUT] += frames;
    return 0;
}

int lg_ws_writeable(struct lws *wsi, struct lg_pss *pss)
{
    struct lg_session *s = pss->session;
    if (!s)
        return -1;
    lg_session_write_called(s);
    if (lws_partial_buffered(wsi)) {
        /* lws still holds bytes the kernel did not take: nothing goes
         * before them. lws flushes them first on the next POLLOUT. */
        lg_session_want_write(s);
        return 0;
    }
    if (lg_session_has_output(s)) {
        if (write_queue(wsi, s) != 0)
            return -1;
        if (lg_session_has_output(s) || s->close_code)
            lg_session_want_write(s);
        return 0;
    }
    if (s->close_code && !s->close_started) {
        s->close_started = true;
        lws_sul_schedule(lws_get_context(wsi), 0, &s->close_timer, on_close_timer, 1);
    }
    return 0;
}

/* One session's end-of-turn write; anything it cannot do here (a close
 * to start, bytes lws still holds, more than one write's worth) is left to
 * the writeable callback. */
static void write_now(struct lg_session *s)
{
    if (s->dropped || !lg_session_has_output(s))
        return;
    if (s->write_asked)
        return; /* the writeable callback comes anyway */
    if (s->close_code || lws_partial_buffered(s->wsi)) {
        lg_session_want_write(s);
        return;
    }
    if (write_queue(s->wsi, s) != 0) {
        lg_session_drop(s, "write failed");
        return;
    }
    if (lg_session_has_output(s))
        lg_session_want_write(s);
}

/* Runs every loop turn, after the I/O callbacks that queued the frames. */
static void on_write_check(uv_check_t *h)
{
    struct lg_gateway *gw = lws_container_of(h, struct lg_gateway, write_check);
    struct lg_list *q;
    while ((q = lg_list_first(&gw->write_soon))) {
        struct lg_session *s = lg_list_entry(q, struct lg_session, write_soon);
        lg_list_remove(&s->write_soon);
        write_now(s);
    }
    uv_idle_stop(&gw->write_idle);
}

void lg_ws_write_soon_init(struct lg_gateway *gw)
{
    lg_list_init(&gw->write_soon);
    uv_check_init(gw->loop, &gw->write_check);
    uv_check_start(&gw->write_check, on_write_check);
    uv_idle_init(gw->loop, &gw->write_idle);
    gw->write_soon_on = true;
}

static void on_write_check_closed(uv_handle_t *h)
{
    (void)h;
}

void lg_ws_write_soon_close(struct lg_gateway *gw)
{
    if (!gw->write_soon_on)
        return;
    gw->write_soon_on = false;
    struct lg_list *q;
    while ((q = lg_list_first(&gw->write_soon)))
        lg_list_remove(q);
    uv_close((uv_handle_t *)&gw->write_check, on_write_check_closed);
    uv_close((uv_handle_t *)&gw->write_idle, on_write_check_closed);
}

void lg_ws_closed(struct lg_gateway *gw, struct lg_pss *pss)
{
    struct lg_session *s = pss->session;
    if (!s)
        return;
    pss->session = NULL;
    lg_list_remove(&s->node);
    gw->n_sessions--;
    count_peer(gw, s->peer, -1, NULL);
    lg_session_free(s);
}
