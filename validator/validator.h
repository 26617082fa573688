/* validator.h - the validation worker: reads the priority streams of every
 * room through a consumer group, decides each order with validate.lua, sends
 * the result to the accepting gateway's reply stream and acknowledges the
 * entry. One batch at a time, every Redis command of a batch pipelined.
 * This is what main.c needs; the files of the worker share internal.h. */
#ifndef LG_VALIDATOR_VALIDATOR_H
#define LG_VALIDATOR_VALIDATOR_H

#include <uv.h>

#include "settings.h"

struct lg_validator;
/* Owns its copy of cfg. NULL when out of memory. */
struct lg_validator *lg_validator_new(uv_loop_t *loop, const struct lg_validator_config *cfg);
/* Serves GET /metrics on LIVEGATE_METRICS_LISTEN, when it is set. Returns
 * 0, or -1 (logged) when the address cannot be listened on. */
int lg_validator_listen_metrics(struct lg_validator *v);
void lg_validator_start(struct lg_validator *v);
/* Finishes the batch in hand, then closes; the loop ends afterwards. */
void lg_validator_stop(struct lg_validator *v);
/* Frees v once the loop has ended. */
void lg_validator_free(struct lg_validator *v);

#endif
