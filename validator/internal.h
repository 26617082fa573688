/* internal.h - what the validator's files share, and nothing the process
 * outside them needs (that is validator.h). The struct lg_validator below
 * is owned by cycle.c, which creates and frees it; the other files work on
 * the batch it holds.
 *
 * One cycle is a chain of steps. A step sends its Redis commands and counts
 * the replies outstanding (lgv_step_*); the last reply calls the step's
 * "after" function, which starts the next step:
 *
 *   rooms.c   refresh the room list / trim old entries      -> next cycle
 *   prune.c   drop drained idle rooms, dead consumers        -> next cycle
 *   claim.c   take over entries a silent consumer left      -> decide
 *   read.c    read a batch, high streams first, per slot    -> decide
 *   decide.c  run validate.lua, one call per room's entries  -> answer
 *   answer.c  send the results, then acknowledge the batch  -> next cycle
 *   pay_timeout.c  cancel the orders unpaid at their deadline -> next cycle
 */
#ifndef LG_VALIDATOR_INTERNAL_H
#define LG_VALIDATOR_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "keys.h"
#include "metrics.h"
#include "redis_conn.h"
#include "result_layout.h"
#include "scripts.h"
#include "validator.h"

#define LGV_ARGC(argv) ((int)(sizeof(argv) / sizeof((argv)[0])))

enum lgv_outcome { LGV_PENDING, LGV_DECIDED, LGV_MISSING, LGV_FAILED, LGV_MALFORMED };

/* One stream entry of the batch in hand. result[] points into
 * result_block, owned by the entry (filled by decide.c, freed by
 * lgv_batch_clear). */
struct lgv_entry {
    struct lg_validator *v; /* the owner, for the callbacks of its writes */
    char stream[LG_KEY_MAX];
    char room[LG_ID_MAX + 1];
    char id[48];
    char order_id[LG_ID_MAX + 1];
    char user[LG_ID_MAX + 1];
    char sku[LG_ID_MAX + 1];
    char coupon[LG_ID_MAX + 1];
    char gw[LG_ID_MAX + 1];
    long long deliveries;
    bool force_expire;
    bool answer_failed; /* the result could not be written: do not acknowledge */
    enum lgv_outcome outcome;
    char *result[LG_RESULT_NFIELDS]; /* validate.lua's reply, by enum lg_result_field */
    char *result_block;              /* the strings result[] points to */
};

/* A reply stream and the batch entries whose results go to it (answer.c). */
struct lgv_target {
    char key[LG_KEY_MAX];
    size_t *index;
    size_t n, cap;
};

struct lg_validator {
    uv_loop_t *loop;
    struct lg_validator_config cfg;
    struct lg_redis *redis;
    struct lg_sku_notifier *sku_notifier; /* sku.update after confirmations */
    uv_timer_t timer;
    struct lg_stats *stats; /* room-wide statistics, flushed every second */

    /* The rooms of the active index, with their slot and the index's score
     * (ms of last activity); grouped by slot into group_order/starts. */
    char (*rooms)[LG_ID_MAX + 1];
    unsigned *room_slots;
    long long *room_scores;
    size_t nrooms, rooms_cap;
    struct lg_strmap *room_set;
    size_t *group_order, *group_starts;
    size_t ngroups;
    bool groups_dirty;
    /* The room the idle wait blocks on (read.c), and the newest index score
     * seen, so a newly active room takes over. */
    char hot_room[LG_ID_MAX + 1];
    long long hot_score;
    bool read_failed; /* a reply of the current read pass was lost */
    /* A read answered NOGROUP: a room's stream was deleted under the
     * validator (DELETE of the room, or by hand) while the room is still
     * listed; read.c makes the groups again, at most once a second. */
    bool groups_lost;
    int64_t groups_remade_ms;
    bool index_seeded; /* the one-time copy of lg:rooms into the index is done */

    struct lgv_entry *batch;
    size_t nbatch, batch_cap;
    size_t got_high;

    /* decide.c's scratch for building one script call (see there). */
    char (*decide_keys)[LG_KEY_MAX];
    const char **decide_args;
    char *decide_expire;
    const char **decide_skus;    /* a call's distinct SKU ids (into its entries) */
    const char **decide_coupons; /* and coupon ids */

    /* answer.c: the reply streams the batch in hand writes to, each with
     * the entries it gets; kept from batch to batch. */
    struct lgv_target *targets;
    size_t ntargets, targets_cap;
    struct lg_reply_pack reply_pack; /* answer.c: one reply.lua call's results */
    struct lg_strmap *target_set;    /* key -> 1 + its index in targets */

    /* pay_timeout.c: per room (by index in rooms), when on lg_mono_ms's
     * clock to call pay_timeout.lua again; 0: at once. */
    int64_t *pay_next_ms;
    size_t pay_cap;

    int pending;        /* replies outstanding in the current step */
    int acks_unawaited; /* XACKs sent and not answered yet (answer.c) */
    void (*after)(struct lg_validator *v);
    bool stopping, stopped;

    int64_t last_rooms_ms, last_claim_ms, last_trim_ms, last_stats_ms, last_pay_ms, last_prune_ms;
    unsigned long long decided, confirmed, rejected, expired, dead_lettered, resent;
    unsigned long long pay_timeouts;
    struct lgv_metrics metrics; /* what GET /metrics shows (metrics.h) */
    struct lgv_scrape *scrape;  /* its listener, NULL without LIVEGATE_METRICS_LISTEN */
};

/* step.c: the reply count of the current step. */
void lgv_step_begin(struct lg_validator *v, void (*after)(struct lg_validator *));
void lgv_step_end(struct lg_validator *v);
/* Called by every reply of a step; the last one moves on. */
void lgv_step_reply(struct lg_validator *v);
/* Sends one command counted in the current step (fn calls lgv_step_reply).
 * Returns -1, counting nothing, when it could not be queued. */
int lgv_step_send(struct lg_validator *v, lg_redis_reply_fn fn, void *arg, int argc,
                  const char **argv);
/* The same for one script call (see lg_script_call). */
int lgv_step_script(struct lg_validator *v, struct lg_script *script, lg_redis_reply_fn fn,
                    void *arg, int nkeys, int nargs, const char **args, const size_t *lens);
/* A reply that only needs to have arrived. arg is the validator. */
void lgv_step_counted(redisReply *reply, void *arg);

/* cycle.c: the cycle itself (and the public lg_validator_* of validator.h). */
void lgv_cycle_schedule(struct lg_validator *v, int delay_ms);
void lgv_cycle_next(struct lg_validator *v);

/* batch.c: the entries in hand. */
size_t lgv_batch_add_entries(struct lg_validator *v, const char *stream, const redisReply *entries);
size_t lgv_batch_add_read_reply(struct lg_validator *v, const redisReply *reply);
void lgv_batch_clear(struct lg_validator *v);

/* rooms.c */
void lgv_rooms_refresh(struct lg_validator *v);
void lgv_rooms_trim(struct lg_validator *v);
/* Groups the rooms by slot if the list changed since. -1 when out of memory. */
int lgv_rooms_group(struct lg_validator *v);
/* The value of name in a reply of name/value pairs (XINFO), or NULL. */
const redisReply *lgv_pair(const redisReply *pairs, const char *name);

/* prune.c */
void lgv_prune(struct lg_validator *v);

/* claim.c */
void lgv_claim(struct lg_validator *v);

/* read.c */
int lgv_read_start(struct lg_validator *v);

/* decide.c: decides the batch, then answers it. */
void lgv_decide_batch(struct lg_validator *v);
/* Frees decide.c's scratch (with the validator). */
void lgv_decide_free(struct lg_validator *v);

/* answer.c: sends every decided entry's result, then acknowledges. */
void lgv_answer_batch(struct lg_validator *v);

/* pay_timeout.c: one pay_timeout.lua call per room whose check is due. */
void lgv_pay_drain(struct lg_validator *v, int64_t now_ms);
void lgv_pay_free(struct lg_validator *v);

#endif
