/* scripts.h - running the embedded Lua scripts. A script is called by
 * EVALSHA (the SHA1 is computed at start-up, so no round trip is needed to
 * learn it) and loaded with SCRIPT LOAD each time the connection comes up.
 * If Redis answers NOSCRIPT anyway (a SCRIPT FLUSH, a failover to a replica
 * without the script) the call is retried once after loading it again, so a
 * caller never sees NOSCRIPT. */
#ifndef LG_QUEUE_SCRIPTS_H
#define LG_QUEUE_SCRIPTS_H

#include <stddef.h>

#include "redis_conn.h"

struct lg_script {
    const char *name;
    const char *body;
    size_t len;
    char sha[41];
};

/* The scripts shipped in queue/lua/, embedded at build time. */
extern struct lg_script lg_script_enqueue;
extern struct lg_script lg_script_validate;
extern struct lg_script lg_script_stats_flush;
extern struct lg_script lg_script_stats_read;
extern struct lg_script lg_script_transition; /* order.update, gateway */
extern struct lg_script lg_script_room_open;
extern struct lg_script lg_script_sku_notify;
extern struct lg_script lg_script_watch;       /* duplicate submit, gateway */
extern struct lg_script lg_script_reply;       /* results to one reply stream, validator, gateway */
extern struct lg_script lg_script_expire;      /* the deadline sweep, gateway */
extern struct lg_script lg_script_pay_timeout; /* payment deadlines, validator */
extern struct lg_script lg_script_room_touch;  /* active-room index mark, gateway */
extern struct lg_script lg_script_room_prune;  /* active-room index removal, validator */
extern struct lg_script lg_script_consumer_prune; /* dead consumers, validator */
extern struct lg_script lg_script_room_delete;    /* DELETE of a room, gateway */

/* Computes the SHA1 of every embedded script; call once at start-up. */
void lg_scripts_init(void);

/* Sends SCRIPT LOAD for every script (fire and forget); call when the
 * connection comes up. */
void lg_scripts_load_all(struct lg_redis *r);

/* EVALSHA s with nkeys keys followed by the other args. Same contract as
 * lg_redis_argv: 0 and fn is called once, or -1 and fn is not called. */
int lg_script_call(struct lg_redis *r, struct lg_script *s, lg_redis_reply_fn fn, void *arg,
                   int nkeys, int nargs, const char **args, const size_t *lens);

#endif
