/* session.h - one viewer's or operator's WebSocket connection: the auth
 * state machine, the dispatch of each complete message, and the queue of
 * frames waiting for libwebsockets to let us write. The lws callback (ws.c)
 * only assembles messages and drains the queue; everything a message means
 * is decided here. */
#ifndef LG_SESSION_H
#define LG_SESSION_H

#include <jansson.h>
#include <libwebsockets.h>
#include <stdbool.h>
#include <stdint.h>

#include "conn/frame.h"
#include "core/gateway.h"
#include "livegate/token.h"
#include "conn/waiter.h"

/* How long a new connection may take to authenticate (contract: 5 s). */
#define LG_AUTH_TIMEOUT_MS 5000
/* Frames a slow client may have queued before it is cut off. */
#define LG_SESSION_MAX_QUEUED_BYTES (4u * 1024 * 1024)

enum lg_session_state { LG_SESSION_AUTH, LG_SESSION_READY, LG_SESSION_CLOSING };

struct lg_monitor_sub;

/* One entry of a session's send queue: a reference to a frame that other
 * sessions may share (see frame.h). */
struct lg_out_frame {
    struct lg_out_frame *next;
    struct lg_frame *frame;
};

/* A session's place in one of the gateway's indexes: a list per key whose
 * head is the index map's value. */
struct lg_session_link {
    struct lg_session *prev, *next;
    bool on;
};

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

    struct lg_out_frame *out_head, *out_tail;
    size_t out_bytes;
    int close_code;
    char close_reason[64];
    bool close_started; /* lws has been told to close */

    lws_sorted_usec_list_t auth_timer;
    lws_sorted_usec_list_t close_timer; /* see ws.c: how a close code is sent */
    struct lg_waiter *waiters;          /* requests in flight for this session */
    struct lg_monitor_sub *monitor;     /* monitor.subscribe, see monitor.h */
    struct lg_session *prev, *next;     /* the gateway's list of sessions */
    struct lg_session_link by_user;     /* same room and user, this gateway */
    struct lg_session_link by_room;     /* viewers of the same room, this gateway */
};

/* Creates a session for an established WebSocket and starts its auth timer.
 * The caller (ws.c) owns it and frees it with lg_session_free on close. */
struct lg_session *lg_session_new(struct lg_gateway *gw, struct lws *wsi, const char *peer);
void lg_session_free(struct lg_session *s);

/* Handles one complete text message. */
void lg_session_on_message(struct lg_session *s, const char *text, size_t len);

/* Queues msg (stealing the reference) and asks lws for a writeable callback. */
void lg_session_send(struct lg_session *s, json_t *msg);
/* Queues a new reference to f (the caller keeps its own). A session whose
 * queue would pass LG_SESSION_MAX_QUEUED_BYTES is closed instead. */
void lg_session_send_frame(struct lg_session *s, struct lg_frame *f);

/* Queues len bytes of ready JSON text as one frame (copied), unless more
 * than max_queued bytes are queued already: then returns -1 and the
 * session stays open (monitors drop frames instead of being cut off). */
int lg_session_send_text(struct lg_session *s, const char *text, size_t len, size_t max_queued);

/* Closes with code after the queued frames are written; later input is ignored. */
void lg_session_close(struct lg_session *s, int code, const char *reason);

/* The first authenticated session of user in room on this gateway; follow
 * by_user.next for the others. */
struct lg_session *lg_session_find_user(struct lg_gateway *gw, const char *room, const char *user);

/* The first authenticated viewer session of room on this gateway; follow
 * by_room.next for the others. */
struct lg_session *lg_session_find_room(struct lg_gateway *gw, const char *room);

/* Pops the next queue entry to write, or NULL. The caller frees it with
 * lg_out_frame_free. */
struct lg_out_frame *lg_session_next_frame(struct lg_session *s);
/* Drops the entry's frame reference and frees the entry. */
void lg_out_frame_free(struct lg_out_frame *f);

#endif
