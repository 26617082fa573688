/* histogram.h - a log-linear latency histogram (HDR style). Values below 128
 * are exact; above, each power of two is split into 64 buckets, and a value
 * is reported as its bucket's midpoint, so a percentile is within 1/128
 * (0.8%) of the true value. Fixed size, no allocation, mergeable: the bench
 * merges its worker processes' histograms, the monitor merges gateways'. */
#ifndef LG_LIVEGATE_HISTOGRAM_H
#define LG_LIVEGATE_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

/* Covers values up to 2^40 (12 days in microseconds). */
#define LG_HIST_BUCKETS 2304
#define LG_HIST_MAX_VALUE ((1ULL << 40) - 1)

struct lg_hist {
    uint64_t counts[LG_HIST_BUCKETS];
    uint64_t total;
    uint64_t min, max;
};

void lg_hist_init(struct lg_hist *h);
/* Values above LG_HIST_MAX_VALUE are recorded as LG_HIST_MAX_VALUE. */
void lg_hist_record(struct lg_hist *h, uint64_t value);
/* Records value n times: rebuilds a histogram from stored bucket counts. */
void lg_hist_record_n(struct lg_hist *h, uint64_t value, uint64_t n);
void lg_hist_merge(struct lg_hist *dst, const struct lg_hist *src);
/* The value at percentile p (0..100); 0 for an empty histogram. p = 100
 * gives the exact maximum. */
uint64_t lg_hist_percentile(const struct lg_hist *h, double p);

/* The bucket of a value and the midpoint a bucket reports (for tests). */
size_t lg_hist_bucket(uint64_t value);
uint64_t lg_hist_bucket_value(size_t bucket);

#endif
