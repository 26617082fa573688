/* token_watch.c - closing sessions whose token expired (see token_watch.h). */
#include <stdlib.h>

#include "conn/session.h"
#include "features/token_watch.h"
#include "livegate/clock.h"
#include "livegate/log.h"
#include "rules/protocol.h"

#define TOKEN_WATCH_EVERY_MS 1000
#define CLOSE_UNAUTHORIZED 4401

struct lg_token_watch {
    uv_timer_t timer;
    struct lg_gateway *gw;
};

unsigned lg_token_watch_sweep(struct lg_gateway *gw, long long now_s)
{
    unsigned closed = 0;
    /* Closing may take s off the list: keep the next one first. */
    for (struct lg_list *q = gw->sessions.next, *next; q != &gw->sessions; q = next) {
        next = q->next;
        struct lg_session *s = lg_list_entry(q, struct lg_session, node);
        if (s->state != LG_SESSION_READY || s->claims.exp > now_s)
            continue;
        lg_session_send(s, lg_msg_error("UNAUTHORIZED",
                                        "the token has expired; reconnect with a fresh token", NULL,
                                        NULL));
        lg_session_close(s, CLOSE_UNAUTHORIZED, "token expired");
        closed++;
    }
    if (closed)
        lg_log(LG_LOG_INFO, "session.token_expired",
               json_pack("{s:I}", "closed", (json_int_t)closed));
    return closed;
}

static void on_tick(uv_timer_t *h)
{
    struct lg_token_watch *t = h->data;
    lg_token_watch_sweep(t->gw, lg_wall_ms() / 1000);
}

struct lg_token_watch *lg_token_watch_new(struct lg_gateway *gw)
{
    struct lg_token_watch *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->gw = gw;
    uv_timer_init(gw->loop, &t->timer);
    t->timer.data = t;
    return t;
}

void lg_token_watch_start(struct lg_token_watch *t)
{
    uv_timer_start(&t->timer, on_tick, TOKEN_WATCH_EVERY_MS, TOKEN_WATCH_EVERY_MS);
    /* It must not keep a stopping gateway's loop alive. */
    uv_unref((uv_handle_t *)&t->timer);
}

static void on_closed(uv_handle_t *h)
{
    free(h->data);
}

void lg_token_watch_close(struct lg_token_watch *t)
{
    if (!t)
        return;
    uv_timer_stop(&t->timer);
    uv_close((uv_handle_t *)&t->timer, on_closed);
}
