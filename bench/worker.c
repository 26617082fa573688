/* worker.c - a bench worker: a few thousand simulated viewers, each one
 * WebSocket client connection (libwebsockets on a libuv loop), sending
 * orders on a schedule and recording what comes back.
 *
 * Why latencies are honest: every submission gets its intended send time
 * when it is planned, from the load shape alone (open loop for steady and
 * burst). If the gateway stalls, submissions queue up on the viewer's
 * connection, and their latency - measured from the intended time, not from
 * the moment the frame left - includes the stall. This is the fix for
 * "coordinated omission", where a stalled server slows the load generator
 * and hides its own stall.
 *
 * Why the audit can trust what it sees: every frame carries a req of its
 * own ("s<index>"), and the gateway echoes it in the direct reply and in the
 * pushed result (which carries the req of the first submission), so every
 * reply is tied to the submission it answers. */
#include <errno.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "livegate/clock.h"
#include "livegate/fd.h"
#include "livegate/token.h"
#include "frame.h"
#include "mix.h"
#include "report.h"
#include "retry.h"
#include "scan.h"
#include "worker.h"

#define SETTLE_US 2000000LL /* after the ramp: idle connections, when gateway memory is sampled */
#define RECONNECT_DELAY_US 1000000LL
#define QUERY_WAIT_US 5000000LL  /* how long order.query answers may take */
#define QUERY_BATCH 100          /* the contract's cap on ids per order.query */
#define LOOKUP_EVERY_US 250000LL /* order.query again for orders still queued */
#define POLL_CHECK_US 50000LL    /* how often the viewers with lookups are looked at */
#define FRAME_MAX 4096
#define TX_MAX 65536    /* bytes written to one connection at once */
#define TX_SUBS_MAX 256 /* submit frames in one write */

/* No idle pings: lws keeps every connection's validity deadline in one
 * sorted list and walks it from the head on each reschedule (a new
 * deadline is the latest, so it goes at the tail), which at 12,000
 * connections a worker cost a fifth of the bench's CPU. A run is short, and a dead connection shows
 * up anyway as unanswered submits. */
static const lws_retry_bo_t no_validity_checks = {.secs_since_valid_ping = 0,
                                                  .secs_since_valid_hangup = 0};

enum sub_flag {
    SUB_DUP = 1 << 0,        /* a resend of an earlier client_order_id */
    SUB_RESEND_NEW = 1 << 1, /* the original: resend it on a new connection once accepted */
    SUB_HIGH = 1 << 2,       /* the gateway must answer priority high */
    SUB_SENT = 1 << 3,
    SUB_ANSWERED = 1 << 4, /* accepted, refused or errored */
    SUB_ACCEPTED = 1 << 5,
    SUB_ORPHANED = 1 << 6,    /* its connection closed before its result came */
    SUB_SLOT_FREED = 1 << 7,  /* max: its slot was refilled already */
    SUB_REFUSED = 1 << 8,     /* answered with an error frame (BUSY, UNAVAILABLE, ...) */
    SUB_UNAVAILABLE = 1 << 9, /* ... which was UNAVAILABLE */
    SUB_RETRY_WAIT = 1 << 10, /* refused BUSY / RATE_LIMITED: its resubmit is not written yet */
    SUB_RESUBMIT = 1 << 11,   /* resent because its connection closed before any answer */
    /* On an original, for its whole order (every submit of the client_order_id): */
    ORDER_REFUSED = 1 << 12,     /* a submit was refused BUSY or RATE_LIMITED */
    ORDER_GAVE_UP = 1 << 13,     /* ... LG_BENCH_RETRY_MAX times: no more retries */
    ORDER_CHECKED = 1 << 14,     /* refused, never accepted, and order.query answered for it */
    ORDER_UNAVAILABLE = 1 << 15, /* a submit was refused UNAVAILABLE (which may have queued it) */
    SUB_REQUEUED = 1 << 16,      /* ... (SUB_RESUBMIT) and not written again yet */
};

/* What an answer to a submit means for the viewer's order slot (max). */
enum answer { ANS_DONE = 0, ANS_ACCEPTED, ANS_RETRY };

enum final_state { FINAL_NONE = 0, FINAL_CONFIRMED, FINAL_REJECTED };

/* One submit frame. Originals also carry their order's outcome; a resend
 * points at its original through `orig`. */
struct sub {
    int64_t intended_us;
    int64_t accept_us;
    int64_t amount;
    int32_t viewer;
    int32_t orig;
    int16_t sku; /* room * (skus + 1) + sku */
    uint8_t qty;
    uint8_t invalid; /* enum lg_mix_invalid */
    uint32_t flags;
    uint8_t final; /* enum final_state */
    uint8_t final_code;
    uint8_t pushes;     /* results pushed with this submission's req */
    uint8_t retries;    /* on an original: resubmits of the order after refusals */
    uint16_t push_conn; /* the viewer's connection the first push came on */
    char order_id[LG_ID_MAX + 1];
};

enum phase { PHASE_SENDING, PHASE_DRAIN, PHASE_QUERY, PHASE_DONE };

struct worker;

/* A poll handle on a dup of a connection's socket (see take_over_reads). */
struct reader {
    uv_poll_t poll;
    int fd;
    struct worker *w;
};

struct viewer {
    struct worker *w;
    struct lws *wsi;
    int index; /* global viewer number */
    int room;
    bool vip;
    bool connected, auth_sent, authed;
    uint16_t conn_serial; /* counts this viewer's connections */
    bool coupon_used;
    bool close_for_resend;   /* close, reconnect, then resend */
    int64_t reconnect_at_us; /* 0: no reconnect planned */
    char *token;
    int *queue; /* submissions waiting to be written, in order */
    size_t qhead, qlen, qcap;
    int outstanding; /* written, not yet answered */
    int *sent;       /* submits written on this connection; the answered ones dropped lazily */
    size_t nsent, sent_cap;
    int *pending; /* originals accepted on this connection, result not seen yet */
    size_t npending, pending_cap;
    int *resend; /* originals to resend once reconnected */
    size_t nresend, resend_cap;
    /* Originals to look up with order.query: orphans (their connection
     * closed before the result came), and at the end every order still
     * without a result. Asked again every LOOKUP_EVERY_US while queued. */
    int *lookups;
    size_t nlookups, lookups_cap;
    bool polling; /* in the worker's pollers list */
    bool dirty;   /* in the worker's dirty list: something to write this turn */
    int64_t next_lookup_us;
    int *query_ids; /* the lookup being written, QUERY_BATCH ids a frame */
    size_t nquery, query_cap, query_pos;
    char *rx;
    size_t rxlen, rxcap;
    /* Reading the connection's frames itself (see take_over_reads): its own
     * poll handle on a dup of the socket, and the message being assembled
     * from fragments. */
    struct reader *reader;
    bool closing;    /* sent our close frame: the next close frame is the answer */
    bool assembling; /* a fragmented message is being put together in msg */
    char *msg;
    size_t msglen, msgcap;
};

struct worker {
    const struct lg_bench_opts *o;
    const struct lg_bench_plan *plan;
    int index, fd;
    uv_loop_t loop;
    uv_timer_t tick, second;
    struct lws_context *lws;
    struct lg_rng rng;
    struct viewer *viewers;
    int nviewers, opened;
    struct sub *subs;
    size_t nsubs, subs_cap;
    /* the schedule */
    double per_order_us;  /* steady */
    uint64_t planned;     /* steady: orders planned so far */
    int64_t *burst_times; /* burst: the current burst's intended times, sorted */
    int *burst_order;     /* ... and the viewer of each */
    int burst_no, burst_pos;
    uint64_t rr;     /* round robin over viewers */
    int *reconnects; /* viewers with a reconnect planned (reconnect_at_us) */
    size_t nreconnects, reconnects_cap;
    int *free_slots; /* max: viewers with an order slot to refill, one entry a slot */
    size_t nfree_slots, free_slots_cap;
    int *pollers; /* viewers with lookups */
    size_t npollers, pollers_cap;
    int *dirty; /* viewers with frames due, written at the end of the loop turn */
    size_t ndirty, dirty_cap;
    uv_prepare_t before_poll;
    uv_check_t after_poll;
    struct lg_rng mask_rng; /* masking keys, apart from the traffic mix's draws */
    int fd_limit;           /* open files this process may hold */
    int nreaders;           /* connections whose frames the bench reads (a dup'd fd each) */
    /* the write being put together: frames, and the submits among them */
    unsigned char tx[LWS_PRE + TX_MAX];
    size_t txlen;
    int tx_subs[TX_SUBS_MAX];
    int ntx_subs;
    int64_t next_poll_check_us;
    enum phase phase;
    int64_t phase_deadline_us;
    int64_t next_drain_check_us;
    /* measurements */
    struct lg_bench_report rep;
    struct lg_bench_second sec;
    int second_no;
    uint64_t conns_up;
    int64_t last_cpu_us, last_flush_us;
    uint64_t unresolved;          /* accepted originals without a final result */
    struct lg_retry_heap retries; /* refused submits waiting for their retry_after_ms */
    int64_t retry_last_us;        /* no retry is planned after this: the drain's end */
    int64_t last_accept_us;       /* when the newest order was accepted: the drain waits
                                     out its 10 s before calling it lost */
    uint64_t refused_checks;      /* refused-only orders asked about, no order.state yet */
};

void lg_bench_plan_make(const struct lg_bench_opts *o, int64_t t0_us, struct lg_bench_plan *p)
{
    p->t0_us = t0_us;
    p->send_start_us = t0_us + (int64_t)(o->ramp_s * 1e6) + SETTLE_US;
    if (o->shape == LG_SHAPE_BURST)
        p->send_end_us =
            p->send_start_us +
            (int64_t)((o->bursts * o->window_s + (o->bursts - 1) * o->burst_gap_s) * 1e6);
    else
        p->send_end_us = p->send_start_us + (int64_t)(o->duration_s * 1e6);
}

static int64_t cpu_now_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
           ru.ru_stime.tv_usec;
}

static void send_to_parent(struct worker *w, uint32_t type, const void *body, size_t len)
{
    if (lg_fd_write_all(w->fd, &type, sizeof(type)) || lg_fd_write_all(w->fd, body, len))
        _exit(3); /* the parent is gone: nobody will read the report */
}

/* ---- submissions ---- */

static int push_int(int **arr, size_t *len, size_t *cap, int v)
{
    if (*len == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        int *n = realloc(*arr, ncap * sizeof(int));
        if (!n)
            return -1;
        *arr = n;
        *cap = ncap;
    }
    (*arr)[(*len)++] = v;
    return 0;
}

static int new_sub(struct worker *w)
{
    if (w->nsubs == w->subs_cap) {
        size_t ncap = w->subs_cap ? w->subs_cap * 2 : 4096;
        struct sub *n = realloc(w->subs, ncap * sizeof(*n));
        if (!n) {
            fprintf(stderr, "livegate-bench: out of memory\n");
            _exit(3);
        }
        w->subs = n;
        w->subs_cap = ncap;
    }
    int i = (int)w->nsubs++;
    memset(&w->subs[i], 0, sizeof(w->subs[i]));
    w->subs[i].orig = i;
    return i;
}

/* Something is due on v's connection: written at the end of this loop turn,
 * together with whatever else becomes due in the same turn. */
static void viewer_kick(struct viewer *v)
{
    struct worker *w = v->w;
    if (!v->wsi || !v->connected || v->dirty)
        return;
    v->dirty = true;
    push_int(&w->dirty, &w->ndirty, &w->dirty_cap, (int)(v - w->viewers));
}

static void enqueue(struct viewer *v, int sub)
{
    if (v->qhead + v->qlen == v->qcap && v->qhead > 0) {
        memmove(v->queue, v->queue + v->qhead, v->qlen * sizeof(int));
        v->qhead = 0;
    }
    size_t end = v->qhead + v->qlen;
    if (push_int(&v->queue, &end, &v->qcap, sub) == 0)
        v->qlen++;
    viewer_kick(v);
}

static int add_resend(struct worker *w, int orig, int64_t intended)
{
    int i = new_sub(w);
    struct sub *d = &w->subs[i], *s = &w->subs[orig];
    *d = *s;
    d->orig = orig;
    d->intended_us = intended;
    d->accept_us = 0;
    d->flags = (uint32_t)((s->flags & SUB_HIGH) | SUB_DUP);
    d->final = FINAL_NONE;
    d->pushes = 0;
    d->order_id[0] = '\0';
    enqueue(&w->viewers[d->viewer], i);
    return i;
}

/* Plans one order of viewer v, intended to leave at `intended`. */
static void plan_order(struct worker *w, struct viewer *v, int64_t intended)
{
    const struct lg_bench_opts *o = w->o;
    struct lg_mix_order m;
    lg_mix_draw(o, &w->rng, v->room, v->vip, !v->coupon_used, &m);
    if (m.coupon)
        v->coupon_used = true; /* whatever the outcome: never risk a second use */
    int i = new_sub(w);
    struct sub *s = &w->subs[i];
    s->intended_us = intended;
    s->viewer = (int32_t)(v - w->viewers);
    s->sku = (int16_t)(m.room * (o->skus + 1) + m.sku);
    s->qty = (uint8_t)m.qty;
    s->amount = m.amount;
    s->invalid = (uint8_t)m.invalid;
    s->flags = m.high ? SUB_HIGH : 0;
    enqueue(v, i);
    if (m.invalid || !(lg_rng_unit(&w->rng) < o->dup_share))
        return;
    if (lg_rng_unit(&w->rng) < o->reconnect_share)
        w->subs[i].flags |= SUB_RESEND_NEW; /* resent after its accept, on a new connection */
    else
        add_resend(w, i, intended); /* a double tap: same moment, same connection */
}

/* ---- frames out ---- */

/* Appends one frame to the write being put together; -1 when it is full. */
static int tx_append(struct worker *w, const char *text, size_t len)
{
    uint32_t key = (uint32_t)(lg_rng_unit(&w->mask_rng) * 4294967296.0);
    size_t n = lg_frame_text(w->tx + LWS_PRE + w->txlen, TX_MAX - w->txlen, text, len, key);
    if (!n)
        return -1;
    w->txlen += n;
    return 0;
}

static int append_submit(struct worker *w, struct viewer *v, int idx)
{
    struct sub *s = &w->subs[idx];
    struct lg_mix_order m = {
        .room = v->room,
        .sku = s->sku % (w->o->skus + 1),
        .qty = s->qty,
        .unit_price = lg_mix_sku_price(w->o, s->sku % (w->o->skus + 1)),
        .amount = s->amount,
        .invalid = (enum lg_mix_invalid)s->invalid,
    };
    m.coupon = !m.invalid && m.amount != m.unit_price * m.qty;
    char coid[64], req[24], frame[FRAME_MAX];
    struct lg_mix_buf cb = {coid, 0, sizeof(coid), false}, rb = {req, 0, sizeof(req), false};
    lg_mix_put_str(&cb, w->o->run_id);
    lg_mix_put_str(&cb, "-");
    lg_mix_put_int(&cb, w->index);
    lg_mix_put_str(&cb, "-");
    lg_mix_put_int(&cb, s->orig);
    lg_mix_put_str(&rb, "s");
    lg_mix_put_int(&rb, idx);
    if (cb.full || rb.full)
        return -1;
    int n = m.invalid
                ? lg_mix_write_submit(w->o, &m, coid, req, (unsigned)v->index, frame, sizeof(frame))
                : lg_mix_write_valid(w->o, &m, coid, req, (unsigned)v->index, frame, sizeof(frame));
    if (n < 0 || w->ntx_subs == TX_SUBS_MAX || tx_append(w, frame, (size_t)n))
        return -1;
    w->tx_subs[w->ntx_subs++] = idx;
    return 0;
}

/* Remembers a submit written on v's connection until it is answered, so a
 * close before the answer sends it again on the next connection. Answered
 * ones are dropped when the list is full, not one by one. */
static void add_sent(struct worker *w, struct viewer *v, int idx)
{
    if (v->nsent == v->sent_cap) {
        size_t kept = 0;
        for (size_t i = 0; i < v->nsent; i++)
            if (!(w->subs[v->sent[i]].flags & SUB_ANSWERED))
                v->sent[kept++] = v->sent[i];
        v->nsent = kept;
    }
    push_int(&v->sent, &v->nsent, &v->sent_cap, idx);
}

/* The submits of a write that went out: counted as sent. */
static void account_submits(struct worker *w, struct viewer *v)
{
    int64_t now = w->ntx_subs ? lg_mono_us() : 0;
    for (int i = 0; i < w->ntx_subs; i++) {
        struct sub *s = &w->subs[w->tx_subs[i]];
        v->outstanding++;
        add_sent(w, v, w->tx_subs[i]);
        if (s->flags & SUB_RETRY_WAIT) {
            /* The same submit again, after its refusal's retry_after_ms:
             * answered anew, and no new order of the mix. */
            s->flags &= (uint32_t) ~(SUB_RETRY_WAIT | SUB_ANSWERED | SUB_REFUSED);
            w->rep.c.retries++;
            continue;
        }
        if (s->flags & SUB_REQUEUED) {
            s->flags &= ~(uint32_t)SUB_REQUEUED;
            w->rep.c.resubmits_after_close++;
            continue;
        }
        s->flags |= SUB_SENT;
        if (!w->rep.first_send_us)
            w->rep.first_send_us = now;
        w->rep.last_send_us = now;
        w->rep.c.submitted++;
        w->sec.submitted++;
        if (s->flags & SUB_DUP)
            w->rep.c.duplicates_sent++;
        if (s->invalid)
            w->rep.c.invalid_sent++;
    }
    w->ntx_subs = 0;
}

static int append_query(struct worker *w, struct viewer *v)
{
    char frame[FRAME_MAX];
    size_t pos = v->query_pos;
    size_t n =
        (size_t)snprintf(frame, sizeof(frame), "{\"type\":\"order.query\",\"client_order_ids\":[");
    int k = 0;
    while (pos < v->nquery && k < QUERY_BATCH && n + 80 < sizeof(frame)) {
        n += (size_t)snprintf(frame + n, sizeof(frame) - n, "%s\"%s-%d-%d\"", k ? "," : "",
                              w->o->run_id, w->index, v->query_ids[pos]);
        pos++;
        k++;
    }
    n += (size_t)snprintf(frame + n, sizeof(frame) - n, "]}");
    if (tx_append(w, frame, n))
        return -1;
    v->query_pos = pos;
    return 0;
}

static bool more_due(const struct viewer *v)
{
    return !v->auth_sent ||
           (v->authed && ((v->qlen && !v->close_for_resend) || v->query_pos < v->nquery));
}

/* Writes everything due on v's connection as one raw write of whole frames:
 * the auth frame first; once authenticated the queued submits, then the
 * lookups. What does not fit waits for the next write. -1: the write
 * failed. */
static int flush_viewer(struct worker *w, struct viewer *v)
{
    w->txlen = 0;
    w->ntx_subs = 0;
    if (!v->auth_sent) {
        char frame[FRAME_MAX];
        int n = snprintf(frame, sizeof(frame), "{\"type\":\"auth\",\"token\":\"%s\"}", v->token);
        if (n < 0 || (size_t)n >= sizeof(frame) || tx_append(w, frame, (size_t)n))
            return -1;
        v->auth_sent = true;
    } else if (v->authed) {
        while (v->qlen && !v->close_for_resend && append_submit(w, v, v->queue[v->qhead]) == 0) {
            v->qhead++;
            v->qlen--;
        }
        while (v->query_pos < v->nquery && append_query(w, v) == 0)
            ;
    }
    if (!w->txlen)
        return 0;
    if (lws_write(v->wsi, w->tx + LWS_PRE, w->txlen, LWS_WRITE_RAW) < (int)w->txlen) {
        /* Perhaps partly out: like any submit unanswered when the
         * connection closes, they are resent on the next one. */
        account_submits(w, v);
        return -1;
    }
    account_submits(w, v);
    return 0;
}

static void send_control(struct worker *w, struct viewer *v, int opcode, const char *payload,
                         size_t len);

/* In the writeable callback: the auth frame, closing for a resend, and
 * writes that had to wait for the socket. */
static int on_writeable(struct worker *w, struct viewer *v)
{
    if (v->close_for_resend && v->outstanding == 0) {
        if (!v->reader) {
            lws_close_reason(v->wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
            return -1;
        }
        /* The bench reads: it sends the close frame and waits for the
         * server's (on_frame), at most 5 s. */
        if (!v->closing) {
            const char normal[2] = {(char)(LWS_CLOSE_STATUS_NORMAL >> 8),
                                    (char)(LWS_CLOSE_STATUS_NORMAL & 0xff)};
            v->closing = true;
            send_control(w, v, 8, normal, sizeof(normal));
            lws_set_timeout(v->wsi, PENDING_TIMEOUT_CLOSE_ACK, 5);
        }
        return 0;
    }
    if (flush_viewer(w, v))
        return -1;
    if (more_due(v))
        lws_callback_on_writable(v->wsi);
    return 0;
}

/* ---- replies ---- */

static int sub_of_req(struct worker *w, const char *req)
{
    if (!req || req[0] != 's')
        return -1;
    char *end;
    long i = strtol(req + 1, &end, 10);
    return (*end || i < 0 || (size_t)i >= w->nsubs) ? -1 : (int)i;
}

/* client_order_id "<run>-<worker>-<orig>" back to the original. */
static int orig_of_coid(struct worker *w, const char *coid)
{
    const char *dash = coid ? strrchr(coid, '-') : NULL;
    if (!dash)
        return -1;
    char *end;
    long i = strtol(dash + 1, &end, 10);
    return (*end || i < 0 || (size_t)i >= w->nsubs) ? -1 : (int)i;
}

/* Closed loop: an order done with frees its viewer's slot, refilled on the
 * next tick (not here: planning may move w->subs, which callers still point
 * into). */
static void free_slot(struct worker *w, struct sub *s)
{
    if (w->o->shape != LG_SHAPE_MAX || (s->flags & (SUB_DUP | SUB_SLOT_FREED)) ||
        w->phase != PHASE_SENDING)
        return;
    s->flags |= SUB_SLOT_FREED;
    push_int(&w->free_slots, &w->nfree_slots, &w->free_slots_cap, s->viewer);
}

/* ANS_ACCEPTED: the answer was order.accepted, so the order is still in
 * flight until its result unless --inflight-until accept. ANS_RETRY: a
 * refusal to be retried, which keeps the slot. */
static void mark_answered(struct worker *w, struct viewer *v, struct sub *s, enum answer how)
{
    if (s->flags & SUB_ANSWERED)
        return;
    s->flags |= SUB_ANSWERED;
    if (v->outstanding > 0)
        v->outstanding--;
    if (v->close_for_resend && v->outstanding == 0)
        viewer_kick(v);
    if (how == ANS_DONE || (how == ANS_ACCEPTED && w->o->inflight_until_accept))
        free_slot(w, s);
}

static void record_final(struct worker *w, struct sub *o, bool confirmed, const char *code,
                         int64_t now, bool by_query)
{
    o->final = confirmed ? FINAL_CONFIRMED : FINAL_REJECTED;
    o->final_code = confirmed ? 0 : (uint8_t)lg_reject_code_parse(code ? code : "");
    if (w->unresolved)
        w->unresolved--;
    free_slot(w, o);
    if (now > w->rep.last_final_us)
        w->rep.last_final_us = now;
    if (confirmed) {
        w->rep.c.confirmed++;
        w->rep.c.gmv_fen += (uint64_t)o->amount;
        w->rep.sku_confirmed_qty[o->sku] += o->qty;
    } else {
        w->rep.c.rejected++;
        w->rep.c.rejected_by_code[o->final_code]++;
    }
    w->sec.results++;
    uint64_t lat = (uint64_t)(now - o->intended_us);
    if (by_query)
        w->rep.a.recovered_by_query++;
    if (o->flags & SUB_ORPHANED) {
        /* Learned after a reconnect: when the bench heard, not when the
         * validator decided. Kept out of the pushed-result figures. */
        w->rep.a.after_reconnect++;
        lg_hist_record(&w->rep.result_after_reconnect, lat);
        return;
    }
    if (by_query) {
        w->rep.a.push_missing++; /* its connection stayed open: the push never came */
        return;
    }
    lg_hist_record(&w->rep.result[(o->flags & SUB_HIGH) ? 1 : 0], lat);
    lg_hist_record(&w->sec.result, lat);
    if (now - o->accept_us > LG_BENCH_SLA_US)
        w->rep.a.late++;
}

/* Drops the entries of list that have their result already (or, for an
 * order refused and never accepted, the answer that it is unknown). */
static void drop_resolved(struct worker *w, int *list, size_t *n)
{
    size_t kept = 0;
    for (size_t i = 0; i < *n; i++)
        if (w->subs[list[i]].final == FINAL_NONE && !(w->subs[list[i]].flags & ORDER_CHECKED))
            list[kept++] = list[i];
    *n = kept;
}

static void add_pending(struct worker *w, struct viewer *v, int orig)
{
    if (v->npending == v->pending_cap)
        drop_resolved(w, v->pending, &v->npending);
    push_int(&v->pending, &v->npending, &v->pending_cap, orig);
}

static void add_lookup(struct worker *w, struct viewer *v, int orig, int64_t first_at)
{
    push_int(&v->lookups, &v->nlookups, &v->lookups_cap, orig);
    if (!v->polling) {
        v->polling = true;
        v->next_lookup_us = first_at;
        push_int(&w->pollers, &w->npollers, &w->pollers_cap, (int)(v - w->viewers));
    }
}

static void on_accepted(struct worker *w, struct viewer *v, struct sub *s,
                        const struct lg_scan *msg, int64_t now)
{
    struct sub *o = &w->subs[s->orig];
    char idbuf[LG_ID_MAX + 1], priobuf[16];
    const char *order_id = lg_scan_str(msg, "order_id", idbuf, sizeof(idbuf));
    const char *prio = lg_scan_str(msg, "priority", priobuf, sizeof(priobuf));
    bool dup = lg_scan_is_true(msg, "duplicate");
    bool first = !(s->flags & SUB_ANSWERED);
    bool resubmit = (s->flags & SUB_RESUBMIT) != 0;
    mark_answered(w, v, s, ANS_ACCEPTED);
    if (!first || !order_id)
        return;
    bool known = (o->flags & SUB_ACCEPTED) != 0; /* an earlier submit of the order got in */
    s->flags |= SUB_ACCEPTED;
    s->accept_us = now;
    uint64_t lat = (uint64_t)(now - s->intended_us);
    bool high = prio && strcmp(prio, "high") == 0;
    lg_hist_record(&w->rep.accept[high ? 1 : 0], lat);
    lg_hist_record(&w->sec.accept, lat);
    w->sec.accepted++;
    if (s->invalid)
        w->rep.a.invalid_wrong++;
    if (high != ((s->flags & SUB_HIGH) != 0))
        w->rep.a.priority_wrong++;
    if (dup)
        w->rep.c.duplicates_accepted++;
    if (known) {
        /* A resend or retry of an order in already: the first order's id. */
        if (!dup || strcmp(order_id, o->order_id) != 0)
            w->rep.a.dup_wrong++;
        return;
    }
    /* No submit of this order was accepted before: this one created it,
     * and the original's entry tracks it from now on - unless the gateway
     * calls it a duplicate. That is right for a resubmit whose first answer
     * died with its connection (the result may have been pushed there: it
     * is looked up). After a BUSY or RATE_LIMITED refusal it means the
     * refusal queued the order; otherwise the gateway invented it. */
    bool orphan = false;
    if (dup && resubmit) {
        orphan = true;
    } else if (dup && (o->flags & ORDER_REFUSED)) {
        w->rep.a.refused_but_queued++;
    } else if (dup) {
        w->rep.a.dup_wrong++; /* a fresh client_order_id called a duplicate */
        if (s != o)
            return;
    }
    if (o->retries) {
        w->rep.c.admitted_after_retry++;
        if (high)
            w->rep.c.admitted_after_retry_high++;
        lg_hist_record(&w->rep.admit_after_retry, (uint64_t)(now - o->intended_us));
    }
    snprintf(o->order_id, sizeof(o->order_id), "%s", order_id);
    o->flags |= SUB_ACCEPTED;
    o->accept_us = now;
    w->last_accept_us = now;
    w->rep.c.accepted++;
    if (high)
        w->rep.c.accepted_high++;
    w->unresolved++;
    add_pending(w, v, (int)(o - w->subs));
    if (orphan) {
        o->flags |= SUB_ORPHANED;
        add_lookup(w, v, (int)(o - w->subs), 0);
    }
    if (o->flags & SUB_RESEND_NEW) {
        push_int(&v->resend, &v->nresend, &v->resend_cap, (int)(o - w->subs));
        v->close_for_resend = true;
        viewer_kick(v);
    }
}

static void on_result(struct worker *w, struct viewer *v, struct sub *s, const char *type,
                      const struct lg_scan *msg, int64_t now)
{
    char codebuf[64];
    const char *code = lg_scan_str(msg, "code", codebuf, sizeof(codebuf));
    bool confirmed = strcmp(type, "order.confirmed") == 0;
    struct sub *o = &w->subs[s->orig];
    if (!(o->flags & SUB_ACCEPTED)) {
        /* The contract puts order.accepted first; the order may still be
         * found by order.query at the end. A refusal promises that nothing
         * was queued, so a result for it means the refusal was wrong -
         * except UNAVAILABLE after a Redis call that timed out yet ran,
         * which docs/PROTOCOL.md owns up to (a retry answers duplicate). */
        if ((s->flags & SUB_UNAVAILABLE) || (o->flags & ORDER_UNAVAILABLE))
            w->rep.a.unavailable_but_queued++;
        else if ((s->flags & SUB_REFUSED) || (o->flags & ORDER_REFUSED))
            w->rep.a.refused_but_queued++;
        else if (!(s->flags & SUB_ANSWERED))
            w->rep.a.out_of_order++;
        return;
    }
    /* Pushes carry the first submission's req; a resend's req marks the
     * result re-sent after a duplicate. A result goes to every connection
     * of the buyer that asked for it, so the same push on the connection
     * that replaced a closing one (a resend after a reconnect) is not a
     * double; twice on one connection is. */
    if (!(s->flags & SUB_DUP)) {
        if (s->pushes && s->push_conn == v->conn_serial)
            w->rep.a.doubled++;
        if (!s->pushes)
            s->push_conn = v->conn_serial;
        if (s->pushes < UINT8_MAX)
            s->pushes++;
    }
    if (o->final != FINAL_NONE) {
        /* A result re-sent after a duplicate must be the same result. */
        bool same = confirmed
                        ? o->final == FINAL_CONFIRMED
                        : o->final == FINAL_REJECTED &&
                              o->final_code == (uint8_t)lg_reject_code_parse(code ? code : "");
        if (!same)
            w->rep.a.doubled++;
        return;
    }
    record_final(w, o, confirmed, code, now, false);
}

/* A refused submit is written again once retry_after_ms passed, on its
 * viewer's connection (the next one if this one closes meanwhile), unless
 * the order was retried too often or the wait ends after the run. */
static enum answer plan_retry(struct worker *w, struct sub *s, const struct lg_scan *msg,
                              int64_t now)
{
    struct sub *o = &w->subs[s->orig];
    int64_t after_ms;
    w->rep.a.refusals_retryable++;
    if (lg_bench_retry_after(msg, &after_ms)) {
        w->rep.a.refusal_no_retry_after++;
        after_ms = LG_BENCH_RETRY_FALLBACK_MS;
    }
    o->flags |= ORDER_REFUSED;
    int64_t due;
    switch (lg_bench_retry_plan(now, after_ms, o->retries, w->retry_last_us, &due)) {
    case LG_RETRY_AT:
        if (lg_retry_push(&w->retries, due, (int)(s - w->subs)))
            return ANS_DONE;
        o->retries++;
        s->flags |= SUB_RETRY_WAIT;
        return ANS_RETRY;
    case LG_RETRY_TOO_MANY:
        o->flags |= ORDER_GAVE_UP;
        return ANS_DONE;
    case LG_RETRY_TOO_LATE:
        break;
    }
    return ANS_DONE;
}

static void on_error(struct worker *w, struct viewer *v, struct sub *s, const struct lg_scan *msg,
                     int64_t now)
{
    char codebuf[64];
    const char *code = lg_scan_str(msg, "code", codebuf, sizeof(codebuf));
    enum lg_error_code ec = lg_error_code_parse(code ? code : "");
    w->rep.c.errors_by_code[ec]++;
    w->sec.errors++;
    if (!s)
        return;
    enum answer how = ANS_DONE;
    if (!(s->flags & SUB_ANSWERED)) {
        s->flags |= (uint32_t)(SUB_REFUSED | (ec == LG_EC_UNAVAILABLE ? SUB_UNAVAILABLE : 0));
        if (ec == LG_EC_UNAVAILABLE)
            w->subs[s->orig].flags |= ORDER_UNAVAILABLE;
        if (ec == LG_EC_BUSY || ec == LG_EC_RATE_LIMITED)
            how = plan_retry(w, s, msg, now);
    }
    mark_answered(w, v, s, how);
}

static void on_state(struct worker *w, const struct lg_scan *msg, int64_t now)
{
    char coid[128], statusbuf[32], codebuf[64];
    int i = orig_of_coid(w, lg_scan_str(msg, "client_order_id", coid, sizeof(coid)));
    const char *status = lg_scan_str(msg, "status", statusbuf, sizeof(statusbuf));
    if (i < 0 || !status)
        return;
    struct sub *o = &w->subs[i];
    if (!(o->flags & SUB_ACCEPTED) && (o->flags & ORDER_REFUSED) && !(o->flags & ORDER_CHECKED)) {
        /* Refused and never accepted: the gateway must not know it. */
        o->flags |= ORDER_CHECKED;
        w->rep.a.refused_only_checked++;
        if (w->refused_checks)
            w->refused_checks--;
        if (strcmp(status, "unknown") != 0 && !(o->flags & ORDER_UNAVAILABLE))
            w->rep.a.refused_only_queued++;
        return;
    }
    if (!(o->flags & SUB_ACCEPTED) || o->final != FINAL_NONE)
        return;
    if (strcmp(status, "pending_payment") == 0)
        record_final(w, o, true, NULL, now, true);
    else if (strcmp(status, "rejected") == 0)
        record_final(w, o, false, lg_scan_str(msg, "code", codebuf, sizeof(codebuf)), now, true);
}

/* Whether msg has a string member key (read without copying it). */
static bool has_string(const struct lg_scan *msg, const char *key)
{
    const struct lg_scan_member *m = lg_scan_get(msg, key);
    return m && m->kind == LG_SCAN_STRING;
}

static void on_message(struct worker *w, struct viewer *v, const char *text, size_t len)
{
    /* Big: kept off the stack of every callback, one worker is one thread. */
    static struct lg_scan msg;
    char typebuf[32], reqbuf[64], coid[128], fieldbuf[64];
    const char *type = lg_scan_object(text, len, &msg) == 0
                           ? lg_scan_str(&msg, "type", typebuf, sizeof(typebuf))
                           : NULL;
    if (!type)
        return;
    int64_t now = lg_mono_us();
    int si = sub_of_req(w, lg_scan_str(&msg, "req", reqbuf, sizeof(reqbuf)));
    struct sub *s = si >= 0 ? &w->subs[si] : NULL;
    if (strcmp(type, "auth.ok") == 0) {
        v->authed = true;
        viewer_kick(v);
    } else if (strcmp(type, "order.accepted") == 0 && s) {
        on_accepted(w, v, s, &msg, now);
    } else if ((strcmp(type, "order.confirmed") == 0 || strcmp(type, "order.rejected") == 0) &&
               has_string(&msg, "order_id")) {
        if (!s) {
            int oi = orig_of_coid(w, lg_scan_str(&msg, "client_order_id", coid, sizeof(coid)));
            s = oi >= 0 ? &w->subs[oi] : NULL;
        }
        if (s)
            on_result(w, v, s, type, &msg, now);
    } else if (strcmp(type, "order.rejected") == 0 && s) {
        /* Refused by a field rule: nothing was queued. */
        const char *field = lg_scan_str(&msg, "field", fieldbuf, sizeof(fieldbuf));
        if (!s->invalid)
            w->rep.a.valid_refused++;
        else if (field && strcmp(field, lg_mix_invalid_field((enum lg_mix_invalid)s->invalid)) == 0)
            w->rep.c.invalid_rejected++;
        else
            w->rep.a.invalid_wrong++;
        mark_answered(w, v, s, ANS_DONE);
    } else if (strcmp(type, "error") == 0) {
        on_error(w, v, s, &msg, now);
    } else if (strcmp(type, "order.state") == 0) {
        on_state(w, &msg, now);
    }
}

/* ---- connections ---- */

static void plan_reconnect(struct worker *w, struct viewer *v, int64_t at)
{
    v->reconnect_at_us = at;
    push_int(&w->reconnects, &w->nreconnects, &w->reconnects_cap, (int)(v - w->viewers));
}

static void viewer_connect(struct worker *w, struct viewer *v)
{
    const struct lg_bench_opts *o = w->o;
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof(ci));
    ci.context = w->lws;
    ci.address = o->host;
    ci.port = o->port;
    ci.path = "/v1/ws";
    ci.host = o->host;
    ci.origin = o->host;
    ci.userdata = v;
    ci.pwsi = &v->wsi;
    ci.retry_and_idle_policy = &no_validity_checks;
    if (o->nsources)
        ci.iface = o->sources[v->index % o->nsources];
    v->connected = v->auth_sent = v->authed = false;
    v->reconnect_at_us = 0;
    w->rep.c.conn_attempts++;
    if (!lws_client_connect_via_info(&ci)) {
        v->wsi = NULL;
        w->rep.c.conn_failed++;
        plan_reconnect(w, v, lg_mono_us() + RECONNECT_DELAY_US);
    }
}

/* The connection is gone: results of the orders accepted on it are pushed
 * (by the accepting gateway process) to nobody, unless the viewer's next
 * connection lands on that same process. Like a real client after a
 * reconnect, the bench looks them up with order.query. */
static void orphan_pending(struct worker *w, struct viewer *v)
{
    drop_resolved(w, v->pending, &v->npending);
    for (size_t i = 0; i < v->npending; i++) {
        w->subs[v->pending[i]].flags |= SUB_ORPHANED;
        add_lookup(w, v, v->pending[i], 0); /* as soon as the new connection is up */
    }
    v->npending = 0;
    v->nquery = v->query_pos = 0; /* a lookup cut short is asked again */
}

/* ---- reading frames ----
 *
 * libwebsockets' client parser walks every received byte through a state
 * machine: about 80 instructions a byte, 70 % of the bench's instructions
 * per order once the writes were batched. So once a connection is up, the
 * bench reads its frames itself: lws stops reading (rx flow control off),
 * and a poll handle on a dup of the socket delivers the bytes to
 * lg_frame_parse. lws still owns the connection: writes go through it, and
 * a close frame, end of stream or error makes the bench drop the connection
 * through lws (LWS_CALLBACK_CLIENT_CLOSED follows, as before). */

#define READ_CHUNK 65536
#define MESSAGE_MAX (16u << 20)

static void reader_closed(uv_handle_t *h)
{
    struct reader *r = h->data;
    r->w->nreaders--;
    close(r->fd);
    free(r);
}

static void stop_reading(struct viewer *v)
{
    if (!v->reader)
        return;
    uv_poll_stop(&v->reader->poll);
    v->reader->poll.data = v->reader;
    uv_close((uv_handle_t *)&v->reader->poll, reader_closed);
    v->reader = NULL;
    v->msglen = 0;
    v->assembling = false;
}

/* Ends the connection from outside lws's callbacks (a reader's poll or the
 * end of a loop turn, where lws is not using the wsi): closed at once, with
 * LWS_CALLBACK_CLIENT_CLOSED called back before this returns. An
 * asynchronous kill waited for lws's next timer pass, which with no idle
 * pings could be the end of the run: a killed gateway's connections then
 * stayed "up", their submits unanswered, until the bench finished. */
static void drop_connection(struct viewer *v)
{
    stop_reading(v);
    if (v->wsi)
        lws_set_timeout(v->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
}

static void send_control(struct worker *w, struct viewer *v, int opcode, const char *payload,
                         size_t len)
{
    uint32_t key = (uint32_t)(lg_rng_unit(&w->mask_rng) * 4294967296.0);
    unsigned char buf[LWS_PRE + 2 * LG_FRAME_HEADER_MAX + 128];
    size_t n = lg_frame_put(buf + LWS_PRE, sizeof(buf) - LWS_PRE, opcode, payload, len, key);
    if (n && v->wsi)
        lws_write(v->wsi, buf + LWS_PRE, n, LWS_WRITE_RAW);
}

/* One whole frame. Returns -1 when the connection is to be dropped. */
static int on_frame(struct worker *w, struct viewer *v, const struct lg_frame_info *fi, char *p)
{
    if (fi->masked)
        lg_frame_mask((unsigned char *)p, p, fi->payload_len, fi->mask);
    switch (fi->opcode) {
    case 8:
        /* The server's close, or its answer to ours. */
        if (!v->closing && fi->payload_len >= 2)
            lg_bench_count_close(&w->rep.c, ((unsigned char)p[0] << 8) | (unsigned char)p[1]);
        return -1;
    case 9:
        send_control(w, v, 10, p, fi->payload_len);
        return 0;
    case 10:
        return 0;
    default:
        break;
    }
    if (fi->opcode != 0 && v->assembling)
        return -1; /* a new message inside a fragmented one */
    if (fi->opcode == 0 && !v->assembling)
        return -1; /* a continuation with nothing to continue */
    if (fi->opcode != 0 && fi->fin) {
        on_message(w, v, p, fi->payload_len); /* the usual case: one frame, one message */
        return 0;
    }
    if (v->msglen + fi->payload_len > MESSAGE_MAX)
        return -1;
    if (v->msglen + fi->payload_len > v->msgcap) {
        size_t ncap = (v->msglen + fi->payload_len) * 2;
        char *n = realloc(v->msg, ncap);
        if (!n)
            return -1;
        v->msg = n;
        v->msgcap = ncap;
    }
    memcpy(v->msg + v->msglen, p, fi->payload_len);
    v->msglen += fi->payload_len;
    v->assembling = !fi->fin;
    if (fi->fin) {
        size_t n = v->msglen;
        v->msglen = 0;
        on_message(w, v, v->msg, n);
    }
    return 0;
}

static void on_readable(uv_poll_t *h, int status, int events)
{
    struct viewer *v = h->data;
    struct worker *w = v->w;
    (void)events;
    if (status < 0) {
        drop_connection(v);
        return;
    }
    if (v->rxcap - v->rxlen < READ_CHUNK) {
        char *n = realloc(v->rx, v->rxlen + READ_CHUNK);
        if (!n) {
            drop_connection(v);
            return;
        }
        v->rx = n;
        v->rxcap = v->rxlen + READ_CHUNK;
    }
    ssize_t got = recv(v->reader->fd, v->rx + v->rxlen, v->rxcap - v->rxlen, 0);
    if (got < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (got <= 0) {
        drop_connection(v); /* end of stream or an error, without a close frame */
        return;
    }
    v->rxlen += (size_t)got;
    size_t off = 0;
    for (;;) {
        struct lg_frame_info fi;
        int r = lg_frame_parse((unsigned char *)v->rx + off, v->rxlen - off, MESSAGE_MAX, &fi);
        if (r == 0)
            break;
        if (r < 0 || on_frame(w, v, &fi, v->rx + off + fi.header)) {
            drop_connection(v);
            return;
        }
        off += fi.header + fi.payload_len;
        if (!v->reader)
            return; /* a message handler closed it */
    }
    if (off) {
        memmove(v->rx, v->rx + off, v->rxlen - off);
        v->rxlen -= off;
    }
}

/* At LWS_CALLBACK_CLIENT_ESTABLISHED. The gateway sends nothing before the
 * auth frame, so lws holds no bytes of the connection yet. Returns -1 when
 * the bench must leave the reading to lws. */
static int take_over_reads(struct worker *w, struct viewer *v, struct lws *wsi)
{
    /* Each reader holds a second descriptor: leave one per viewer for its
     * socket, so tens of thousands of connections still fit (the rest are
     * read by lws). */
    int fd = (int)lws_get_socket_fd(wsi);
    if (fd < 0 || w->nreaders + w->nviewers + 64 >= w->fd_limit)
        return -1;
    struct reader *r = malloc(sizeof(*r));
    int dfd = dup(fd);
    if (!r || dfd < 0 || uv_poll_init(&w->loop, &r->poll, dfd)) {
        free(r);
        if (dfd >= 0)
            close(dfd);
        return -1;
    }
    r->fd = dfd;
    r->w = w;
    w->nreaders++;
    r->poll.data = v;
    v->reader = r;
    v->rxlen = v->msglen = 0;
    v->closing = v->assembling = false;
    lws_rx_flow_control(wsi, 0);
    uv_poll_start(&r->poll, UV_READABLE, on_readable);
    return 0;
}

/* The submits written on a connection that closed before answering them
 * go first in the viewer's queue, in the order they were written, ahead of
 * what was never written. */
static void resubmit_unanswered(struct worker *w, struct viewer *v)
{
    /* A submit retried on the same connection is on the list twice: the
     * first sight marks it (as answered, for the moment) so it goes once. */
    size_t n = 0;
    for (size_t i = 0; i < v->nsent; i++) {
        struct sub *s = &w->subs[v->sent[i]];
        if (!(s->flags & SUB_ANSWERED)) {
            s->flags |= SUB_ANSWERED;
            v->sent[n++] = v->sent[i];
        }
    }
    for (size_t i = 0; i < n; i++)
        w->subs[v->sent[i]].flags =
            (uint32_t)((w->subs[v->sent[i]].flags & ~SUB_ANSWERED) | SUB_RESUBMIT | SUB_REQUEUED);
    v->nsent = 0;
    if (!n)
        return;
    size_t end = v->qhead + v->qlen;
    for (size_t i = 0; i < n; i++)
        push_int(&v->queue, &end, &v->qcap, 0); /* room for n more */
    memmove(v->queue + n, v->queue + v->qhead, v->qlen * sizeof(int));
    memcpy(v->queue, v->sent, n * sizeof(int));
    v->qhead = 0;
    v->qlen += n;
}

static void on_closed(struct worker *w, struct viewer *v, bool failed)
{
    bool was_up = v->connected;
    stop_reading(v);
    if (w->phase != PHASE_DONE)
        orphan_pending(w, v);
    v->wsi = NULL;
    v->connected = v->authed = v->auth_sent = false;
    v->rxlen = 0;
    if (was_up && w->conns_up)
        w->conns_up--;
    /* Whatever was written and not answered on this connection never will
     * be: like a client, the bench sends it again on the next connection. */
    v->outstanding = 0;
    if (w->phase == PHASE_DONE)
        return;
    resubmit_unanswered(w, v);
    if (v->close_for_resend) {
        v->close_for_resend = false;
        int64_t now = lg_mono_us();
        for (size_t i = 0; i < v->nresend; i++)
            add_resend(w, v->resend[i], now);
        v->nresend = 0;
        w->rep.c.reconnects++;
        plan_reconnect(w, v, now);
        return;
    }
    if (failed)
        w->rep.c.conn_failed++;
    else
        w->rep.c.conn_closed_by_server++;
    plan_reconnect(w, v, lg_mono_us() + RECONNECT_DELAY_US);
}

static int on_receive(struct worker *w, struct viewer *v, struct lws *wsi, const char *in,
                      size_t len)
{
    bool final = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
    if (final && v->rxlen == 0) {
        on_message(w, v, in, len);
        return 0;
    }
    if (v->rxlen + len > v->rxcap) {
        size_t ncap = (v->rxlen + len) * 2;
        char *n = realloc(v->rx, ncap);
        if (!n)
            return -1;
        v->rx = n;
        v->rxcap = ncap;
    }
    memcpy(v->rx + v->rxlen, in, len);
    v->rxlen += len;
    if (final) {
        on_message(w, v, v->rx, v->rxlen);
        v->rxlen = 0;
    }
    return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct viewer *v = user;
    struct worker *w = v ? v->w : NULL;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        v->connected = true;
        v->conn_serial++;
        w->conns_up++;
        take_over_reads(w, v, wsi); /* else lws goes on reading: LWS_CALLBACK_CLIENT_RECEIVE */
        lws_callback_on_writable(wsi);
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return on_writeable(w, v);
    case LWS_CALLBACK_CLIENT_RECEIVE:
        return on_receive(w, v, wsi, in, len);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (len >= 2) {
            const unsigned char *p = in;
            lg_bench_count_close(&w->rep.c, (p[0] << 8) | p[1]);
        }
        break;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (v && v->wsi == wsi)
            on_closed(w, v, true);
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (v && v->wsi == wsi)
            on_closed(w, v, false);
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols protocols[] = {
    /* tx_packet_size: a write of many frames goes to send() whole */
    {"lg-bench", callback, 0, FRAME_MAX, 0, NULL, TX_MAX},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- the schedule ---- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Every viewer submits once at a uniformly random moment of the window. */
static void plan_burst(struct worker *w)
{
    int64_t start = w->plan->send_start_us +
                    (int64_t)(w->burst_no * (w->o->window_s + w->o->burst_gap_s) * 1e6);
    int64_t span = (int64_t)(w->o->window_s * 1e6);
    for (int i = 0; i < w->nviewers; i++)
        w->burst_times[i] = start + (span > 0 ? (int64_t)(lg_rng_unit(&w->rng) * (double)span) : 0);
    qsort(w->burst_times, (size_t)w->nviewers, sizeof(int64_t), cmp_i64);
    for (int i = 0; i < w->nviewers; i++)
        w->burst_order[i] = i;
    for (int i = w->nviewers - 1; i > 0; i--) {
        int j = (int)lg_rng_below(&w->rng, (uint32_t)(i + 1));
        int t = w->burst_order[i];
        w->burst_order[i] = w->burst_order[j];
        w->burst_order[j] = t;
    }
    w->burst_pos = 0;
}

/* max: one new order for each slot freed since the last call. */
static void refill_slots(struct worker *w, int64_t now)
{
    if (now < w->plan->send_end_us)
        for (size_t i = 0; i < w->nfree_slots; i++)
            plan_order(w, &w->viewers[w->free_slots[i]], now);
    w->nfree_slots = 0;
}

static void run_schedule(struct worker *w, int64_t now)
{
    const struct lg_bench_opts *o = w->o;
    if (now < w->plan->send_start_us)
        return;
    switch (o->shape) {
    case LG_SHAPE_STEADY:
        for (;;) {
            int64_t t = w->plan->send_start_us + (int64_t)((double)w->planned * w->per_order_us);
            if (t > now || t >= w->plan->send_end_us)
                break;
            plan_order(w, &w->viewers[w->rr++ % (uint64_t)w->nviewers], t);
            w->planned++;
        }
        break;
    case LG_SHAPE_BURST:
        while (w->burst_no < o->bursts) {
            if (w->burst_pos == w->nviewers) {
                if (++w->burst_no < o->bursts)
                    plan_burst(w);
                continue;
            }
            if (w->burst_times[w->burst_pos] > now)
                break;
            plan_order(w, &w->viewers[w->burst_order[w->burst_pos]], w->burst_times[w->burst_pos]);
            w->burst_pos++;
        }
        break;
    case LG_SHAPE_MAX:
        if (w->planned == 0) {
            for (int i = 0; i < w->nviewers; i++)
                for (int k = 0; k < o->inflight; k++)
                    plan_order(w, &w->viewers[i], w->plan->send_start_us);
            w->planned = 1;
        }
        refill_slots(w, now);
        break;
    }
}

/* Refused submits whose retry_after_ms has passed go back on their
 * viewer's queue (written once its connection is up and authenticated). */
static void run_retries(struct worker *w, int64_t now)
{
    int si;
    while (lg_retry_pop_due(&w->retries, now, &si))
        enqueue(&w->viewers[w->subs[si].viewer], si);
}

/* Only the viewers waiting to reconnect, not every viewer each time. A
 * connect that fails at once appends to the list: keep those too. */
static void run_reconnects(struct worker *w, int64_t now)
{
    size_t n = w->nreconnects, kept = 0;
    for (size_t i = 0; i < n; i++) {
        struct viewer *v = &w->viewers[w->reconnects[i]];
        if (v->wsi || !v->reconnect_at_us)
            continue;
        if (v->reconnect_at_us > now)
            w->reconnects[kept++] = w->reconnects[i];
        else
            viewer_connect(w, v);
    }
    if (w->nreconnects > n)
        memmove(w->reconnects + kept, w->reconnects + n, (w->nreconnects - n) * sizeof(int));
    w->nreconnects = kept + (w->nreconnects - n);
}

static void open_connections(struct worker *w, int64_t now)
{
    double ramp_us = w->o->ramp_s * 1e6;
    double frac = ramp_us > 0 ? (double)(now - w->plan->t0_us) / ramp_us : 1.0;
    int target = frac >= 1 ? w->nviewers : (int)(frac * w->nviewers);
    /* A bounded number per tick keeps the loop answering while it ramps. */
    for (int k = 0; w->opened < target && k < 500; k++)
        viewer_connect(w, &w->viewers[w->opened++]);
    run_reconnects(w, now);
}

static void start_query_phase(struct worker *w)
{
    w->phase = PHASE_QUERY;
    w->phase_deadline_us = lg_mono_us() + QUERY_WAIT_US;
    for (size_t i = 0; i < w->nsubs; i++) {
        struct sub *s = &w->subs[i];
        if ((s->flags & SUB_ACCEPTED) && s->orig == (int)i && s->final == FINAL_NONE &&
            !(s->flags & SUB_ORPHANED)) /* orphans are looked up already */
            add_lookup(w, &w->viewers[s->viewer], (int)i, 0);
        if (s->orig == (int)i && (s->flags & ORDER_REFUSED) && !(s->flags & SUB_ACCEPTED) &&
            !(s->flags & ORDER_CHECKED)) {
            w->refused_checks++; /* order.query must not know it */
            add_lookup(w, &w->viewers[s->viewer], (int)i, 0);
        }
    }
    for (size_t i = 0; i < w->npollers; i++)
        w->viewers[w->pollers[i]].next_lookup_us = 0;
}

/* Sends order.query for each polling viewer's orders still without a
 * result, once every LOOKUP_EVERY_US, and forgets the viewers done. */
static void run_lookups(struct worker *w, int64_t now)
{
    if (now < w->next_poll_check_us)
        return;
    w->next_poll_check_us = now + POLL_CHECK_US;
    size_t kept = 0;
    for (size_t i = 0; i < w->npollers; i++) {
        struct viewer *v = &w->viewers[w->pollers[i]];
        drop_resolved(w, v->lookups, &v->nlookups);
        if (!v->nlookups) {
            v->polling = false;
            continue;
        }
        w->pollers[kept++] = w->pollers[i];
        if (now < v->next_lookup_us || !v->authed || v->query_pos < v->nquery)
            continue;
        v->nquery = v->query_pos = 0;
        for (size_t k = 0; k < v->nlookups; k++)
            push_int(&v->query_ids, &v->nquery, &v->query_cap, v->lookups[k]);
        v->next_lookup_us = now + LOOKUP_EVERY_US;
        viewer_kick(v);
    }
    w->npollers = kept;
}

/* The drain is over when every submit is answered and every accepted order
 * has its result (orphans are being looked up meanwhile). */
static bool drained(struct worker *w)
{
    if (w->unresolved || w->retries.n)
        return false;
    for (int i = 0; i < w->nviewers; i++) {
        const struct viewer *v = &w->viewers[i];
        if (v->qlen || v->outstanding || v->close_for_resend)
            return false;
    }
    return true;
}

static void finish(struct worker *w);

static void advance_phase(struct worker *w, int64_t now)
{
    switch (w->phase) {
    case PHASE_SENDING:
        if (now >= w->plan->send_end_us) {
            w->phase = PHASE_DRAIN;
            w->phase_deadline_us = now + (int64_t)(w->o->drain_s * 1e6);
        }
        break;
    case PHASE_DRAIN:
        if (lg_bench_drain_over(now, w->phase_deadline_us, w->last_accept_us) ||
            (now >= w->next_drain_check_us && drained(w)))
            start_query_phase(w);
        else if (now >= w->next_drain_check_us)
            w->next_drain_check_us = now + 50000;
        break;
    case PHASE_QUERY:
        if ((w->unresolved == 0 && w->refused_checks == 0) || now >= w->phase_deadline_us)
            finish(w);
        break;
    case PHASE_DONE:
        break;
    }
}

/* Writes what became due on each connection during this loop turn, one
 * write per connection. Straight from here when nothing of the connection's
 * is still buffered; else (and for the auth frame and a close) from its
 * writeable callback, which lws orders after the buffered bytes. */
static void flush_dirty(struct worker *w)
{
    for (size_t i = 0; i < w->ndirty; i++) {
        struct viewer *v = &w->viewers[w->dirty[i]];
        v->dirty = false;
        if (!v->wsi || !v->connected)
            continue;
        if (!v->auth_sent || v->close_for_resend || lws_partial_buffered(v->wsi)) {
            lws_callback_on_writable(v->wsi);
            continue;
        }
        if (flush_viewer(w, v)) {
            drop_connection(v);
            continue;
        }
        if (more_due(v))
            lws_callback_on_writable(v->wsi);
    }
    w->ndirty = 0;
}

/* Runs before and after each poll for events: slots freed by this turn's
 * results are refilled and due reconnects made at once (not on the next
 * tick), and every connection's frames go out in one write. */
static void run_turn(struct worker *w)
{
    if (w->phase == PHASE_DONE)
        return;
    int64_t now = lg_mono_us();
    if (w->phase == PHASE_SENDING && w->o->shape == LG_SHAPE_MAX)
        run_schedule(w, now);
    if (w->nreconnects && w->phase <= PHASE_QUERY)
        run_reconnects(w, now);
    if (w->retries.n && w->phase <= PHASE_QUERY)
        run_retries(w, now);
    flush_dirty(w);
}

static void on_before_poll(uv_prepare_t *h)
{
    run_turn(h->data);
}

static void on_after_poll(uv_check_t *h)
{
    run_turn(h->data);
}

static void on_tick(uv_timer_t *t)
{
    struct worker *w = t->data;
    int64_t now = lg_mono_us();
    if (w->phase == PHASE_DONE)
        return;
    if (w->phase <= PHASE_QUERY) {
        open_connections(w, now);
        run_lookups(w, now);
    }
    if (w->phase == PHASE_SENDING)
        run_schedule(w, now);
    advance_phase(w, now);
}

static void flush_second(struct worker *w)
{
    int64_t cpu = cpu_now_us();
    w->sec.worker = w->index;
    w->sec.second = w->second_no++;
    w->sec.conns_up = w->conns_up;
    w->sec.cpu_us = (uint64_t)(cpu - w->last_cpu_us);
    /* A share of the wall time since the last report: a busy loop fires
     * this timer late, and a second's CPU over a longer gap is not >100 %. */
    int64_t wall = lg_mono_us();
    double busy = (double)(cpu - w->last_cpu_us) /
                  (double)(wall - w->last_flush_us > 1000000 ? wall - w->last_flush_us : 1000000);
    w->last_flush_us = wall;
    if (busy > w->rep.busy_ratio_max && w->phase == PHASE_SENDING)
        w->rep.busy_ratio_max = busy;
    w->last_cpu_us = cpu;
    if (w->conns_up > w->rep.conns_max_up)
        w->rep.conns_max_up = w->conns_up;
    send_to_parent(w, LG_MSG_SECOND, &w->sec, sizeof(w->sec));
    memset(&w->sec, 0, sizeof(w->sec));
    lg_hist_init(&w->sec.accept);
    lg_hist_init(&w->sec.result);
}

static void on_second(uv_timer_t *t)
{
    flush_second(t->data);
}

/* Counts what never resolved, reports, and lets the loop wind down. */
static void finish(struct worker *w)
{
    w->phase = PHASE_DONE;
    for (size_t i = 0; i < w->nsubs; i++) {
        struct sub *s = &w->subs[i];
        /* Silence on an open connection is the gateway's; a submit never
         * written (again) because no connection came back is not. */
        bool written = (s->flags & SUB_SENT) && !(s->flags & SUB_REQUEUED);
        if (!(s->flags & SUB_ANSWERED)) {
            if (written)
                w->rep.a.unanswered++;
            else
                w->rep.a.unsent++;
        }
        if ((s->flags & SUB_ACCEPTED) && s->orig == (int)i && s->final == FINAL_NONE)
            w->rep.a.lost++;
        if (s->orig == (int)i && (s->flags & ORDER_REFUSED) && !(s->flags & SUB_ACCEPTED)) {
            if (s->flags & ORDER_GAVE_UP)
                w->rep.c.refused_gave_up++;
            else
                w->rep.c.refused_waiting++;
        }
    }
    for (int i = 0; i < w->nviewers; i++)
        stop_reading(&w->viewers[i]);
    flush_second(w);
    w->rep.cpu_us = (uint64_t)cpu_now_us();
    send_to_parent(w, LG_MSG_REPORT, &w->rep, sizeof(w->rep));
    uv_timer_stop(&w->tick);
    uv_timer_stop(&w->second);
    uv_prepare_stop(&w->before_poll);
    uv_check_stop(&w->after_poll);
    uv_close((uv_handle_t *)&w->tick, NULL);
    uv_close((uv_handle_t *)&w->second, NULL);
    uv_close((uv_handle_t *)&w->before_poll, NULL);
    uv_close((uv_handle_t *)&w->after_poll, NULL);
    lws_context_destroy(w->lws);
    w->lws = NULL;
}

/* ---- set-up ---- */

static int make_viewers(struct worker *w, int first, int count)
{
    const struct lg_bench_opts *o = w->o;
    w->viewers = calloc((size_t)count, sizeof(*w->viewers));
    if (!w->viewers)
        return -1;
    w->nviewers = count;
    long long exp = (long long)time(NULL) + 3600 +
                    (long long)(o->ramp_s + o->duration_s + o->drain_s +
                                o->bursts * (o->window_s + o->burst_gap_s));
    for (int i = 0; i < count; i++) {
        struct viewer *v = &w->viewers[i];
        v->w = w;
        v->index = first + i;
        v->room = v->index % o->rooms;
        v->vip = lg_rng_unit(&w->rng) < o->vip_share;
        struct lg_claims c = {.role = LG_ROLE_VIEWER, .vip = v->vip, .exp = exp};
        snprintf(c.sub, sizeof(c.sub), "bench-%s-u%d", o->run_id, v->index);
        lg_mix_room_id(o, v->room, c.room, sizeof(c.room));
        v->token = lg_token_mint(o->secret, strlen(o->secret), &c);
        if (!v->token)
            return -1;
    }
    return 0;
}

static void free_worker(struct worker *w)
{
    for (int i = 0; i < w->nviewers; i++) {
        struct viewer *v = &w->viewers[i];
        free(v->token);
        free(v->queue);
        free(v->sent);
        free(v->resend);
        free(v->pending);
        free(v->lookups);
        free(v->query_ids);
        free(v->rx);
        free(v->msg);
    }
    free(w->viewers);
    free(w->subs);
    free(w->burst_times);
    free(w->burst_order);
    free(w->free_slots);
    free(w->reconnects);
    free(w->pollers);
    free(w->dirty);
    lg_retry_free(&w->retries);
}

int lg_bench_worker_run(const struct lg_bench_opts *o, const struct lg_bench_plan *plan, int index,
                        int first, int count, int fd)
{
    static struct worker w; /* large (histograms): keep it off the stack */
    memset(&w, 0, sizeof(w));
    w.o = o;
    w.plan = plan;
    w.index = index;
    w.fd = fd;
    signal(SIGPIPE, SIG_IGN);
    lg_rng_seed(&w.rng, ((uint64_t)o->seed << 20) ^ (uint64_t)(index + 1) * 0x9e3779b97f4a7c15ULL);
    lg_rng_seed(&w.mask_rng,
                ((uint64_t)o->seed << 24) ^ (uint64_t)(index + 7) * 0xbf58476d1ce4e5b9ULL);
    lg_bench_report_init(&w.rep);
    lg_hist_init(&w.sec.accept);
    lg_hist_init(&w.sec.result);
    w.per_order_us = 1e6 / (o->rate * count / o->conns);
    w.retry_last_us = plan->send_end_us + (int64_t)(o->drain_s * 1e6);
    if (make_viewers(&w, first, count)) {
        fprintf(stderr, "livegate-bench: worker %d could not mint tokens\n", index);
        free_worker(&w);
        return 2;
    }
    if (o->shape == LG_SHAPE_BURST) {
        w.burst_times = calloc((size_t)count, sizeof(int64_t));
        w.burst_order = calloc((size_t)count, sizeof(int));
        if (!w.burst_times || !w.burst_order)
            return 2;
        plan_burst(&w);
    }

    uv_loop_init(&w.loop);
    void *foreign[1] = {&w.loop};
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_LIBUV;
    info.foreign_loops = foreign;
    w.fd_limit = lg_fd_raise_limit();
    info.fd_limit_per_thread = (unsigned)w.fd_limit;
    info.timeout_secs = 10;
    info.retry_and_idle_policy = &no_validity_checks;
    w.lws = lws_create_context(&info);
    if (!w.lws) {
        fprintf(stderr, "livegate-bench: worker %d: libwebsockets did not start\n", index);
        free_worker(&w);
        return 2;
    }
    w.last_cpu_us = cpu_now_us();
    w.last_flush_us = lg_mono_us();
    uv_timer_init(&w.loop, &w.tick);
    uv_timer_init(&w.loop, &w.second);
    w.tick.data = w.second.data = &w;
    uv_prepare_init(&w.loop, &w.before_poll);
    uv_check_init(&w.loop, &w.after_poll);
    w.before_poll.data = w.after_poll.data = &w;
    uv_prepare_start(&w.before_poll, on_before_poll);
    uv_check_start(&w.after_poll, on_after_poll);
    /* steady and burst send on a timetable: a tick a millisecond. max refills
     * its slots after each turn's results (run_turn), so its tick only ramps,
     * looks up and ends phases. */
    uv_timer_start(&w.tick, on_tick, 0, o->shape == LG_SHAPE_MAX ? 10 : 1);
    int64_t first_second_ms = (plan->t0_us + 1000000 - lg_mono_us()) / 1000;
    uv_timer_start(&w.second, on_second, first_second_ms > 0 ? (uint64_t)first_second_ms : 0, 1000);
    uv_run(&w.loop, UV_RUN_DEFAULT);
    uv_loop_close(&w.loop);
    free_worker(&w);
    return 0;
}
