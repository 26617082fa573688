/* session.h - one viewer's or operator's WebSocket connection: its state
 * (authenticating, ready, closing), the queue of frames waiting for
 * libwebsockets to let us write, closing with a code, and this gateway's
 * indexes of sessions by user and by room. What a message means is decided
 * above, in dispatch/dispatch.c; the connection reaches it, and tells it
 * that a session is going, only through the hooks dispatch installs
 * (struct lg_session_hooks), so this layer includes no feature. */
#ifndef LG_CONN_SESSION_H
#define LG_CONN_SESSION_H

#include <jansson.h>
#include <libwebsockets.h>
#include <stdbool.h>
#include <stdint.h>

#include "conn/frame.h"
#include "conn/waiter.h"
#include "core/gateway.h"
#include "livegate/list.h"
#include "livegate/token.h"

/* How long a new connection may take to authenticate (contract: 5 s). */
#define LG_AUTH_TIMEOUT_MS 5000
/* A client that stops reading fills the kernel's buffers, then this
 * queue. At the soft cap, optional frames (sku.update, the monitor's
 * feed) are dropped for the session, and if the queue has not drained to
 * half of it LIVEGATE_SLOW_CLIENT_MS later the socket is dropped. A frame that must not be
 * lost (a result, a reply) and would pass the hard cap drops the socket at
 * once: the client reconnects and asks (order.query) rather than miss it
 * on a connection that looks open. */
#define LG_SESSION_SOFT_QUEUED_BYTES (1u * 1024 * 1024)
#define LG_SESSION_MAX_QUEUED_BYTES (4u * 1024 * 1024)

enum lg_session_state { LG_SESSION_AUTH, LG_SESSION_READY, LG_SESSION_CLOSING };

struct lg_session;
struct lg_monitor_sub;
struct lg_session_bucket;

/* One entry of a session's send queue: a reference to a frame that other
 * sessions may share (see frame.h). */
struct lg_session_out {
    struct lg_list node; /* on lg_session.out */
    struct lg_frame *frame;
};

/* A session's place in one of the gateway's indexes: on the list of the
 * sessions sharing its key (bucket), which the index map holds. */
struct lg_session_link {
    struct lg_list node;
    struct lg_session_bucket *bucket; /* NULL while not indexed */
};

/* What the layers above do with sessions: one set per gateway, installed
 * at startup (lg_session_set_hooks) before any connection is accepted. */
struct lg_session_hooks {
    /* One complete text message from a session that is not closing. */
    void (*on_message)(struct lg_session *s, const char *text, size_t len);
    /* s is about to be freed, still in its indexes: drop every pointer to it. */
    void (*on_close)(struct lg_session *s);
};

/* A result that must wait for its order.accepted. The result's push comes
 * through another Redis connection than the enqueue reply, so it can reach
 * the loop first, and the contract says accepted comes first. A submit in
 * flight opens a hold naming its order id; a result offered for that id
 * meanwhile (lg_session_hold_result) is kept in the hold, and whoever
 * closes the hold sends it after the accepted. The hold is embedded in the
 * submitter's request, which owns it. */
struct lg_session_hold {
    struct lg_list node;     /* on lg_session.holds while open */
    const char *order_id;    /* the holder's own buffer */
    struct lg_frame *result; /* the first result offered (a reference), or NULL */
};

struct lg_turns; /* rules/admission_rules.h: intake's, the session only owns it */

struct lg_session {
    struct lg_gateway *gw;
    struct lws *wsi;
    char id[LG_ID_MAX + 1];
    char peer[64];
    enum lg_session_state state;
    struct lg_claims claims;

    /* a message arriving in several fragments or chunks */
    char *rx;
    size_t rx_len, rx_cap;

    struct lg_list out; /* struct lg_session_out, oldest first */
    size_t out_bytes;
    /* lws has been asked for a writeable callback that has not come yet:
     * POLLOUT is armed once per connection, however many frames are
     * queued before the callback (see lg_session_want_write). */
    bool write_asked;
    struct lg_list write_soon; /* on gw->write_soon while linked (lg_session_write_soon) */
    int close_code;
    char close_reason[64];
    bool close_started; /* lws has been told to close */
    bool dropped;       /* lws has been told to drop the socket, without a close frame */
    bool congested;     /* no room under the soft cap lately; slow_timer runs */
    /* the congested session's drop, or a closing session's deadline */
    lws_sorted_usec_list_t slow_timer;

    lws_sorted_usec_list_t auth_timer;
    lws_sorted_usec_list_t close_timer; /* see ws.c: how a close code is sent */
    struct lg_list waiters;             /* requests in flight for this session (lg_waiter) */
    int submits_in_flight;              /* order.submit not yet answered (intake's, for its cap) */
    int high_in_flight;                 /* of those, the high-value ones (their own cap) */
    struct lg_turns *turns;             /* BUSY turns given (intake's; NULL until the first) */
    struct lg_list holds;               /* open struct lg_session_hold */
    struct lg_monitor_sub *monitor;     /* monitor.subscribe's, owned by monitor.c */
    struct lg_list node;                /* on gw->sessions */
    struct lg_session_link by_user;     /* same room and user, this gateway */
    struct lg_session_link by_room;     /* viewers of the same room, this gateway */
};

/* Installs the hooks of every session of gw; hooks must outlive them. */
void lg_session_set_hooks(struct lg_gateway *gw, const struct lg_session_hooks *hooks);

/* Creates a session for an established WebSocket and starts its auth timer.
 * The caller (ws.c) owns it and frees it with lg_session_free on close. */
struct lg_session *lg_session_new(struct lg_gateway *gw, struct lws *wsi, const char *peer);
/* Runs the on_close hook, then leaves the indexes, orphans the waiters and
 * holds and frees s with its queue. */
void lg_session_free(struct lg_session *s);

/* One complete text message from the peer: counted, and handed to the
 * on_message hook unless s is closing. */
void lg_session_receive(struct lg_session *s, const char *text, size_t len);

/* The token checked out: s becomes ready with claims, joins the indexes
 * (by user; by room for viewers) and counts in its room's connections. */
void lg_session_authenticated(struct lg_session *s, const struct lg_claims *claims);

/* Queues msg (stealing the reference) and asks lws for a writeable
 * callback if none is pending. */
void lg_session_send(struct lg_session *s, json_t *msg);
/* Queues a copy of len bytes of ready JSON text as one frame, as
 * lg_session_send does a message; len 0 queues nothing. */
void lg_session_send_copy(struct lg_session *s, const char *text, size_t len);
/* Queues a new reference to f (the caller keeps its own). A session whose
 * queue would pass LG_SESSION_MAX_QUEUED_BYTES is dropped instead. */
void lg_session_send_frame(struct lg_session *s, struct lg_frame *f);
/* The same for a frame the client can do without (sku.update: the next
 * one carries the SKU's state again): not queued, and false returned,
 * while s is closing or when it would take the queue past
 * LG_SESSION_SOFT_QUEUED_BYTES (which starts the slow client's clock). */
bool lg_session_send_optional(struct lg_session *s, struct lg_frame *f);

/* Queues len bytes of ready JSON text as one optional frame (copied),
 * unless more than max_queued bytes are queued already: then returns -1
 * and the session stays open (monitors drop frames instead of being cut
 * off). */
int lg_session_send_text(struct lg_session *s, const char *text, size_t len, size_t max_queued);

/* Closes with code after the queued frames are written; later input is
 * ignored. A close not through within LIVEGATE_SLOW_CLIENT_MS (a client
 * that does not read it) drops the socket. */
void lg_session_close(struct lg_session *s, int code, const char *reason);
/* Drops the socket on lws's next service, without a close frame or the
 * queued frames: a client that does not read would never take them, and
 * lws would wait on it. The kernel resets the connection (no lingering
 * socket holding the unsent bytes); lws then reports it closed as usual. */
void lg_session_drop(struct lg_session *s, const char *why);

/* The first authenticated session of user in room on this gateway, or
 * NULL; lg_session_user_next gives the others. */
struct lg_session *lg_session_find_user(struct lg_gateway *gw, const char *room, const char *user);
struct lg_session *lg_session_user_next(const struct lg_session *s);

/* The first authenticated viewer session of room on this gateway, or
 * NULL; lg_session_room_next gives the others. */
struct lg_session *lg_session_find_room(struct lg_gateway *gw, const char *room);
struct lg_session *lg_session_room_next(const struct lg_session *s);

/* Opens h on s for order_id (a buffer that outlives the hold). */
void lg_session_hold_open(struct lg_session *s, struct lg_session_hold *h, const char *order_id);
/* Closes h and returns the result it held, a frame reference the caller
 * now owns (sends and unrefs, or unrefs), or NULL. Safe on a hold whose session is gone and on
 * one never opened (all zero). */
struct lg_frame *lg_session_hold_close(struct lg_session_hold *h);
/* Keeps a reference to f in s's open hold of order_id, if any (a repeat
 * is dropped: the first result is the one sent). Returns false when there
 * is none: send f now. */
bool lg_session_hold_result(struct lg_session *s, const char *order_id, struct lg_frame *f);

/* Frames were queued for s: they are written at the end of this loop turn
 * (conn/ws.c's check handle), straight to the socket, with every other
 * frame due to s by then. Asking lws for a writeable callback instead
 * arms POLLOUT and disarms it after (four epoll_ctl with lws's libuv loop)
 * for a socket that can almost always take the bytes at once: under a
 * flood of refusals, one frame per connection per turn, that was a seventh
 * of a gateway's CPU. What the kernel does not take, lws keeps and sends
 * on POLLOUT, which it arms itself; a close to start, and what is left
 * past LG_WS_WRITE_MAX, go through the writeable callback as before. */
void lg_session_write_soon(struct lg_session *s);
/* Asks lws for a writeable callback unless one is already asked for.
 * Each request arms POLLOUT (an epoll_ctl); a fan-out of several frames
 * to one viewer in one turn needs only the first. */
void lg_session_want_write(struct lg_session *s);
/* The writeable callback has come: the next frame queued asks again. */
void lg_session_write_called(struct lg_session *s);

/* Whether the queue holds frames not yet written. */
bool lg_session_has_output(const struct lg_session *s);
/* The oldest frame not yet written, left on the queue, or NULL. */
const struct lg_frame *lg_session_peek_frame(const struct lg_session *s);
/* Pops the next queue entry to write, or NULL. The caller frees it with
 * lg_session_out_free. */
struct lg_session_out *lg_session_next_frame(struct lg_session *s);
/* Drops the entry's frame reference and frees the entry. */
void lg_session_out_free(struct lg_session_out *f);

#endif
