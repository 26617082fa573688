/* retry.h - how the bench answers BUSY and RATE_LIMITED the way a real
 * client must: wait the refusal's retry_after_ms, then resubmit the same
 * client_order_id. Kept apart from the worker and pure (no clock, no I/O)
 * so the unit tests can hold every bound - a missing or broken
 * retry_after_ms, the per-order cap, the run's end - on both sides. */
#ifndef LG_BENCH_RETRY_H
#define LG_BENCH_RETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scan.h"

/* Resubmits of one order after refusals: enough for any honest back-off
 * within a run, few enough that a gateway refusing forever cannot keep the
 * bench busy with one order. */
#define LG_BENCH_RETRY_MAX 64
/* The longest retry_after_ms taken as meant: an hour is longer than any run. */
#define LG_BENCH_RETRY_AFTER_MAX_MS 3600000LL
/* What the bench waits when a refusal broke the contract and named no
 * retry_after_ms (the audit fails it; the order is still retried, as a
 * client would with its own back-off). */
#define LG_BENCH_RETRY_FALLBACK_MS 1000LL

/* The refusal's retry_after_ms: 0 with *ms set, or -1 when it is missing,
 * not a JSON integer (a string, a fraction, an exponent), below 1 or above
 * LG_BENCH_RETRY_AFTER_MAX_MS. */
int lg_bench_retry_after(const struct lg_scan *msg, int64_t *ms);

enum lg_retry_verdict {
    LG_RETRY_AT = 0,   /* resubmit at *due_us */
    LG_RETRY_TOO_MANY, /* the order was resubmitted LG_BENCH_RETRY_MAX times already */
    LG_RETRY_TOO_LATE  /* the wait ends after last_us: the run is over by then */
};

/* When to resubmit an order refused at now_us with retry_after_ms after_ms,
 * after `done` resubmits of it. No resubmit is planned after last_us (the
 * send phase's end plus the drain window). */
enum lg_retry_verdict lg_bench_retry_plan(int64_t now_us, int64_t after_ms, int done,
                                          int64_t last_us, int64_t *due_us);

/* The resubmits waiting for their time, earliest first (a binary heap:
 * a flood refuses tens of thousands of orders, each with its own wait). */
struct lg_retry_entry {
    int64_t due_us;
    int sub;
};
struct lg_retry_heap {
    struct lg_retry_entry *e;
    size_t n, cap;
};

int lg_retry_push(struct lg_retry_heap *h, int64_t due_us, int sub);
/* Takes the earliest entry due at or before now_us into *sub. */
bool lg_retry_pop_due(struct lg_retry_heap *h, int64_t now_us, int *sub);
void lg_retry_free(struct lg_retry_heap *h);

/* The promise the bench holds the system to: a result within 10 s of the
 * order's acceptance. */
#define LG_BENCH_SLA_US 10000000LL
/* What an answer may take to travel once decided, on top of the promise. */
#define LG_BENCH_ANSWER_GRACE_US 1000000LL

/* Whether the drain phase's time is up at now_us: its --drain window has
 * passed (drain_end_us), and so has the promise of the newest accepted
 * order (accepted at last_accept_us, 0 for none) plus the grace. A retry
 * admitted late in the drain is not called lost while its answer is still
 * due; retries stop at the drain's end, so the phase ends. */
bool lg_bench_drain_over(int64_t now_us, int64_t drain_end_us, int64_t last_accept_us);

#endif
