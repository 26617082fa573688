/* slo.h - --slo: service-level targets a run is judged against, on top of
 * the audit. "accept_p99=5ms,result_p99_high=1s,lost=0,confirmed_rate>=500"
 * is parsed once, with the options, so a mistyped target stops the bench
 * before any load is sent; after the run each target gets a pass/fail
 * verdict from the merged report alone (no I/O: the unit tests judge
 * reports built by hand on both sides of each bound). */
#ifndef LG_BENCH_SLO_H
#define LG_BENCH_SLO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lg_bench_report;

#define LG_SLO_MAX 32

enum lg_slo_kind { LG_SLO_LATENCY, LG_SLO_COUNT, LG_SLO_RATE };

struct lg_slo_target {
    char name[32];  /* as written, e.g. "result_p99_high" */
    char bound[32]; /* as written after the operator, e.g. "1s" */
    enum lg_slo_kind kind;
    bool at_least; /* a floor (confirmed_rate >= N); otherwise a ceiling */
    int metric;    /* count and rate targets: the index in their table */
    bool result;   /* latency: result (true) or accept (false) */
    double pct;    /* latency: 50, 90, 99, 99.9 or 100 (max) */
    int prio;      /* latency: -1 both priorities, 0 normal, 1 high */
    double limit;  /* microseconds, a count, or orders per second */
};

struct lg_slo_set {
    struct lg_slo_target t[LG_SLO_MAX];
    int n;
};

/* Adds the comma-separated targets of spec to *s. 0, or -1 with a message
 * naming the bad target in err; *s is unchanged on error. */
int lg_slo_parse(struct lg_slo_set *s, const char *spec, char *err, size_t errsz);

/* The throughput figures the rate targets are judged on; a negative rate
 * is unknown (a sending window of no length). */
struct lg_slo_rates {
    double confirmed_per_s;         /* first send to last final result */
    double confirmed_per_s_sending; /* first to last send */
};

struct lg_slo_result {
    bool ok;
    bool measured; /* false: no sample to judge (fails) */
    double value;  /* microseconds, a count, or per second */
    uint64_t samples;
};

struct lg_slo_verdict {
    struct lg_slo_result r[LG_SLO_MAX];
    int n;
    bool ok; /* every target met */
};

void lg_slo_judge(const struct lg_slo_set *s, const struct lg_bench_report *r,
                  const struct lg_slo_rates *rates, struct lg_slo_verdict *out);

/* One verdict line without its "[ok]"/"[FAIL]", e.g.
 * "accept_p99 <= 5ms: 2.31 ms (n=1200)". */
void lg_slo_describe(const struct lg_slo_target *t, const struct lg_slo_result *r, char *buf,
                     size_t n);

/* The count and rate targets, one a line, for --help. */
extern const char LG_SLO_HELP[];

#endif
