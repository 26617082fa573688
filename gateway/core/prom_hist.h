/* prom_hist.h - a cumulative Prometheus histogram of latencies, with fixed
 * bucket bounds. It lives in core, apart from /metrics, so the features
 * that observe latencies (intake, results) and the per-process state that
 * holds the histograms need nothing of the metrics endpoint. */
#ifndef LG_CORE_PROM_HIST_H
#define LG_CORE_PROM_HIST_H

#include <stdint.h>

/* Upper bounds (seconds) of the latency histograms' buckets; +Inf follows. */
#define LG_PROM_NBUCKETS 14
extern const double lg_prom_bounds[LG_PROM_NBUCKETS];

/* Counts per bound, sum and count; rendered cumulative by metrics.c. */
struct lg_prom_hist {
    uint64_t buckets[LG_PROM_NBUCKETS]; /* samples <= bound (not yet cumulative) */
    uint64_t count;
    double sum;
};

/* Counts one sample; a negative one (a clock step) counts as 0. */
void lg_prom_hist_observe(struct lg_prom_hist *h, double seconds);

#endif
