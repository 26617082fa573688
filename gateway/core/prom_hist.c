/* prom_hist.c - the latency histogram (see prom_hist.h). The bounds follow
 * Prometheus's usual latency buckets, from half a millisecond up to the
 * 10-second promise. */
#include "core/prom_hist.h"

const double lg_prom_bounds[LG_PROM_NBUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                 0.1,    0.25,  0.5,    1,     2.5,  5,     10};

void lg_prom_hist_observe(struct lg_prom_hist *h, double seconds)
{
    if (seconds < 0)
        seconds = 0;
    for (int i = 0; i < LG_PROM_NBUCKETS; i++) {
        if (seconds <= lg_prom_bounds[i]) {
            h->buckets[i]++;
            break;
        }
    }
    h->count++;
    h->sum += seconds;
}
