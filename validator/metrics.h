/* metrics.h - the validator's own figures for GET /metrics: decisions by
 * code, batch sizes, lag and claims, counted where the cycle does the work
 * and rendered in the Prometheus text format (version 0.0.4). Counting and
 * rendering are pure, so the exact text is unit-tested; scrape.c serves it. */
#ifndef LG_VALIDATOR_METRICS_H
#define LG_VALIDATOR_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Distinct decision codes counted; a code past them counts as "OTHER". */
#define LGV_METRICS_MAX_CODES 24
#define LGV_METRICS_CODE_MAX 31
/* Batch size buckets: 1, 2, 4, ... 4096 (LIVEGATE_VALIDATOR_BATCH's top). */
#define LGV_METRICS_NBATCH 13

struct lgv_metrics_code {
    char code[LGV_METRICS_CODE_MAX + 1];
    unsigned long long n;
};

struct lgv_metrics {
    struct lgv_metrics_code codes[LGV_METRICS_MAX_CODES + 1]; /* the last: "OTHER" */
    size_t ncodes;
    unsigned long long resent, dead_lettered, pay_timeouts;
    unsigned long long claim_rounds, claimed;   /* XAUTOCLAIM rounds, entries taken over */
    uint64_t batch_buckets[LGV_METRICS_NBATCH]; /* not cumulative; over 4096: +Inf only */
    unsigned long long batches, batch_entries;
    double lag_s; /* the oldest entry of the last batch, when it was decided; 0: caught up */
};

/* A decision made now: code is "CONFIRMED" for a confirmation, else the
 * rejection's code (EXPIRED included). */
void lgv_metrics_decision(struct lgv_metrics *m, const char *code);
/* A batch of n entries about to be decided, the oldest entered at
 * oldest_ms (wall clock; stream ids carry Redis's), at now_ms. */
void lgv_metrics_batch(struct lgv_metrics *m, size_t n, int64_t oldest_ms, int64_t now_ms);
/* A read that found nothing: the validator has caught up. */
void lgv_metrics_idle(struct lgv_metrics *m);

/* What the process is, for the rendering. */
struct lgv_metrics_state {
    const char *consumer;
    size_t rooms;
    bool redis_up;
};

/* The exposition text; the caller frees it. NULL when out of memory. */
char *lgv_metrics_render(const struct lgv_metrics *m, const struct lgv_metrics_state *st,
                         size_t *len);

#endif
