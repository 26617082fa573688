/* expiry.h - the gateway's deadline sweep. An accepted order must be
 * answered within LIVEGATE_DEADLINE_MS of its accepted_at_ms even when every
 * validator is slow, stuck or gone, so each gateway, every
 * LG_EXPIRY_TICK_MS, runs expire.lua for every room it took an order in
 * during the last two deadlines: orders still queued
 * LIVEGATE_DEADLINE_MS - LIVEGATE_EXPIRE_MARGIN_MS after acceptance are
 * answered EXPIRED in one atomic step (a validator reaching one later finds
 * it decided). The results then travel like a validator's: reply.lua to the
 * accepting gateway's reply stream and to each watcher's, where
 * features/results.c pushes them to the buyer. */
#ifndef LG_FEATURES_EXPIRY_H
#define LG_FEATURES_EXPIRY_H

#include "core/gateway.h"

/* How often each remembered room is swept. */
#define LG_EXPIRY_TICK_MS 200
/* While one gateway sweeps a room, the others skip it for this long. */
#define LG_EXPIRY_GUARD_MS 150
/* Entries one expire.lua call looks at; a call that stops there is
 * followed by another at once. */
#define LG_EXPIRY_BATCH 256

struct lg_expiry;

/* gw->loop and gw->redis must be set. NULL when out of memory. */
struct lg_expiry *lg_expiry_new(struct lg_gateway *gw);
/* Starts the sweep timer; it does not keep the loop alive. */
void lg_expiry_start(struct lg_expiry *e);
/* room got a submit on this gateway: it is swept for the next two
 * deadlines. e may be NULL (then nothing happens). */
void lg_expiry_note_room(struct lg_expiry *e, const char *room);
/* Stops sweeping; e is freed once its timer is closed and the calls in
 * flight are answered (NULL when the connection closes), so keep running
 * the loop. Call before gw->redis closes. */
void lg_expiry_close(struct lg_expiry *e);

#endif
