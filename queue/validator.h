/* validator.h - the validation worker: reads the priority streams of every
 * room through a consumer group, decides each order with validate.lua, sends
 * the result to the accepting gateway's reply stream and acknowledges the
 * entry. One batch at a time, every Redis command of a batch pipelined. */
#ifndef LG_VALIDATOR_H
#define LG_VALIDATOR_H

#include <stdbool.h>
#include <uv.h>

#include "livegate/config.h"
#include "livegate/log.h"
#include "livegate/text.h"

#define LG_VALIDATOR_GROUP "lg-validators"

struct lg_validator_config {
    struct lg_redis_url redis;
    char consumer[LG_ID_MAX + 1];
    int batch;          /* entries per read, >= 64 */
    int block_ms;       /* how long an idle read waits */
    int deadline_ms;    /* the contract's 10 s */
    int margin_ms;      /* EXPIRED is decided this much before the deadline */
    int pay_window_ms;  /* pay_deadline_ms = confirmation + this */
    int claim_idle_ms;  /* pending this long with a silent consumer: claim it */
    int max_deliveries; /* more than this: dead letter + EXPIRED */
    int retention_ms;   /* stream entries older than this are trimmed */
    int redis_timeout_ms;
    enum lg_log_level log_level;
};

int lg_validator_config_load(struct lg_validator_config *c, char *err, size_t errsz);

struct lg_validator;
struct lg_validator *lg_validator_new(uv_loop_t *loop, const struct lg_validator_config *cfg);
void lg_validator_start(struct lg_validator *v);
/* Finishes the batch in hand, then closes; the loop ends afterwards. */
void lg_validator_stop(struct lg_validator *v);
/* Frees v once the loop has ended. */
void lg_validator_free(struct lg_validator *v);

#endif
