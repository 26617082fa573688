/* results.h - final results coming back from the validators. Each gateway
 * process reads its own reply stream (lg:gw:{id}:replies) on a second Redis
 * connection, so a blocking read never delays the intake pipeline, and
 * pushes each result to the buyer's connections on this gateway. A buyer who
 * is gone finds the result later in the order record (order.query, or a
 * duplicate submit). */
#ifndef LG_FEATURES_RESULTS_H
#define LG_FEATURES_RESULTS_H

#include <stdbool.h>

#include "conn/frame.h"
#include "core/gateway.h"
#include "rules/protocol.h"

struct lg_results *lg_results_new(struct lg_gateway *gw);
void lg_results_start(struct lg_results *r);
/* Frees r at once and closes its connection: reads still pending are
 * answered (NULL) during this call, and the connection's own memory goes
 * once its libuv handles are closed, so keep running the loop. */
void lg_results_close(struct lg_results *r);

/* The reply-stream connection, for its metrics. */
struct lg_redis *lg_results_conn(struct lg_results *r);

/* The frame a viewer is sent for res: the decided result while the order
 * is still as decided, else order.status with its state now (see
 * lg_result_as_decided). One reference, the caller's; NULL when res cannot
 * be written (a string not UTF-8) or on OOM. */
struct lg_frame *lg_results_frame_now(const struct lg_result *res);
/* The decided result itself (order.confirmed or order.rejected), as
 * lg_results_frame_now's. */
struct lg_frame *lg_results_frame(const struct lg_result *res);

/* Sends res to every connection of user in room on this gateway. Results
 * from the reply stream are pushed at most once per order, so a result the
 * validators re-sent after a crash is not shown twice: false for such a
 * repeat. */
bool lg_results_deliver(struct lg_gateway *gw, const char *room, const char *user,
                        const struct lg_result *res, bool from_stream);

#endif
