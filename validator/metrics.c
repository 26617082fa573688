/* metrics.c - the validator's figures and their text (see metrics.h).
 * Decisions are counted by code so that a rate per code is one PromQL
 * rate(); the lag is the age of the oldest entry of the batch in hand, the
 * figure that says whether orders will be decided before their deadline. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "livegate/text.h"
#include "metrics.h"

static const unsigned BATCH_BOUNDS[LGV_METRICS_NBATCH] = {1,   2,   4,   8,    16,   32,  64,
                                                          128, 256, 512, 1024, 2048, 4096};

static struct lgv_metrics_code *code_slot(struct lgv_metrics *m, const char *code)
{
    for (size_t i = 0; i < m->ncodes; i++)
        if (strcmp(m->codes[i].code, code) == 0)
            return &m->codes[i];
    struct lgv_metrics_code *c;
    /* Only ID characters reach a label value unquoted. */
    size_t n = strlen(code);
    if (m->ncodes < LGV_METRICS_MAX_CODES && n <= LGV_METRICS_CODE_MAX && lg_text_is_id(code, n)) {
        c = &m->codes[m->ncodes++];
        snprintf(c->code, sizeof(c->code), "%s", code);
    } else {
        c = &m->codes[LGV_METRICS_MAX_CODES];
        snprintf(c->code, sizeof(c->code), "OTHER");
    }
    return c;
}

void lgv_metrics_decision(struct lgv_metrics *m, const char *code)
{
    code_slot(m, code ? code : "")->n++;
}

void lgv_metrics_batch(struct lgv_metrics *m, size_t n, int64_t oldest_ms, int64_t now_ms)
{
    if (n == 0)
        return;
    m->batches++;
    m->batch_entries += n;
    for (int i = 0; i < LGV_METRICS_NBATCH; i++) {
        if (n <= BATCH_BOUNDS[i]) {
            m->batch_buckets[i]++;
            break;
        }
    }
    /* A clock step between Redis and here is not a negative lag. */
    m->lag_s = oldest_ms > 0 && now_ms > oldest_ms ? (double)(now_ms - oldest_ms) / 1000.0 : 0;
}

void lgv_metrics_idle(struct lgv_metrics *m)
{
    m->lag_s = 0;
}

/* ---- rendering -------------------------------------------------------------- */

static void head(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(FILE *f, const char *name, const char *help, unsigned long long v)
{
    head(f, name, "counter", help);
    fprintf(f, "%s %llu\n", name, v);
}

static void decisions(FILE *f, const struct lgv_metrics *m)
{
    head(f, "livegate_validator_decisions_total", "counter",
         "Orders decided by this validator, by code: CONFIRMED, or the rejection's code.");
    for (size_t i = 0; i < m->ncodes; i++)
        fprintf(f, "livegate_validator_decisions_total{code=\"%s\"} %llu\n", m->codes[i].code,
                m->codes[i].n);
    const struct lgv_metrics_code *other = &m->codes[LGV_METRICS_MAX_CODES];
    if (other->n)
        fprintf(f, "livegate_validator_decisions_total{code=\"OTHER\"} %llu\n", other->n);
}

static void batch_sizes(FILE *f, const struct lgv_metrics *m)
{
    head(f, "livegate_validator_batch_size", "histogram",
         "Entries per batch decided (read or claimed).");
    unsigned long long cumulative = 0;
    for (int i = 0; i < LGV_METRICS_NBATCH; i++) {
        cumulative += m->batch_buckets[i];
        fprintf(f, "livegate_validator_batch_size_bucket{le=\"%u\"} %llu\n", BATCH_BOUNDS[i],
                cumulative);
    }
    fprintf(f, "livegate_validator_batch_size_bucket{le=\"+Inf\"} %llu\n", m->batches);
    fprintf(f, "livegate_validator_batch_size_sum %llu\n", m->batch_entries);
    fprintf(f, "livegate_validator_batch_size_count %llu\n", m->batches);
}

char *lgv_metrics_render(const struct lgv_metrics *m, const struct lgv_metrics_state *st,
                         size_t *len)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f)
        return NULL;
    head(f, "livegate_validator_info", "gauge", "This validator process; the value is always 1.");
    fprintf(f, "livegate_validator_info{consumer=\"%s\"} 1\n", st->consumer ? st->consumer : "");
    head(f, "livegate_validator_redis_up", "gauge", "1 while the Redis connection is usable.");
    fprintf(f, "livegate_validator_redis_up %d\n", st->redis_up ? 1 : 0);
    head(f, "livegate_validator_rooms", "gauge", "Rooms whose streams this validator reads.");
    fprintf(f, "livegate_validator_rooms %zu\n", st->rooms);
    decisions(f, m);
    counter(f, "livegate_validator_results_resent_total",
            "Results of orders decided before, sent again (a claimed or retried entry).",
            m->resent);
    counter(f, "livegate_validator_dead_lettered_total",
            "Entries handed out more than LIVEGATE_MAX_DELIVERIES times: dead-lettered, EXPIRED.",
            m->dead_lettered);
    counter(f, "livegate_validator_pay_timeouts_total",
            "Orders this validator cancelled unpaid at their payment deadline.", m->pay_timeouts);
    counter(f, "livegate_validator_claim_rounds_total",
            "Rounds of taking over entries a silent consumer left pending.", m->claim_rounds);
    counter(f, "livegate_validator_claimed_total", "Entries taken over from a silent consumer.",
            m->claimed);
    batch_sizes(f, m);
    head(f, "livegate_validator_lag_seconds", "gauge",
         "Age of the oldest entry of the last batch when it was decided; 0 once a read finds "
         "nothing.");
    fprintf(f, "livegate_validator_lag_seconds %.3f\n", m->lag_s);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    *len = size;
    return text;
}
