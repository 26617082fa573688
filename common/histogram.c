/* histogram.c - log-linear histogram (see histogram.h for the error bound).
 * Bucket index: for a value whose top set bit is m >= 7, shift = m - 6 keeps
 * its top 7 bits (64..127), and index = shift * 64 + (value >> shift). */
#include <string.h>

#include "livegate/histogram.h"

void lg_hist_init(struct lg_hist *h)
{
    memset(h, 0, sizeof(*h));
}

size_t lg_hist_bucket(uint64_t value)
{
    if (value > LG_HIST_MAX_VALUE)
        value = LG_HIST_MAX_VALUE;
    if (value < 128)
        return (size_t)value;
    int top = 63 - __builtin_clzll(value);
    int shift = top - 6;
    return (size_t)shift * 64 + (size_t)(value >> shift);
}

uint64_t lg_hist_bucket_value(size_t bucket)
{
    if (bucket < 128)
        return bucket;
    size_t shift = bucket / 64 - 1;
    uint64_t low = (uint64_t)(bucket - shift * 64) << shift;
    return low + ((1ULL << shift) - 1) / 2;
}

void lg_hist_record_n(struct lg_hist *h, uint64_t value, uint64_t n)
{
    if (n == 0)
        return;
    if (value > LG_HIST_MAX_VALUE)
        value = LG_HIST_MAX_VALUE;
    h->counts[lg_hist_bucket(value)] += n;
    if (h->total == 0 || value < h->min)
        h->min = value;
    if (value > h->max)
        h->max = value;
    h->total += n;
}

void lg_hist_record(struct lg_hist *h, uint64_t value)
{
    lg_hist_record_n(h, value, 1);
}

void lg_hist_merge(struct lg_hist *dst, const struct lg_hist *src)
{
    if (src->total == 0)
        return;
    for (size_t i = 0; i < LG_HIST_BUCKETS; i++)
        dst->counts[i] += src->counts[i];
    if (dst->total == 0 || src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    dst->total += src->total;
}

uint64_t lg_hist_percentile(const struct lg_hist *h, double p)
{
    if (h->total == 0)
        return 0;
    if (p >= 100.0)
        return h->max;
    if (p < 0)
        p = 0;
    /* The rank of the value at p: the smallest value with at least p% of
     * the samples at or below it. */
    uint64_t rank = (uint64_t)(p / 100.0 * (double)h->total + 0.999999);
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < LG_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = lg_hist_bucket_value(i);
            if (v < h->min)
                v = h->min;
            if (v > h->max)
                v = h->max;
            return v;
        }
    }
    return h->max;
}
