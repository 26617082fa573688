/* output.h - what the parent prints and writes: the live progress line, the
 * human summary, the JSON report and the CSV timeline. */
#ifndef LG_BENCH_OUTPUT_H
#define LG_BENCH_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>

#include "cost.h"
#include "options.h"
#include "report.h"
#include "slo.h"

/* One second of the run, all workers merged. */
struct lg_bench_tick {
    int reported; /* how many workers have reported this second */
    uint64_t conns_up, submitted, accepted, results, errors, cpu_us;
    struct lg_hist accept, result;
};

struct lg_bench_run {
    const struct lg_bench_opts *o;
    struct lg_bench_report total;
    struct lg_bench_tick *ticks;
    int nticks;
    struct lg_bench_stock_check stock;
    struct lg_bench_audit audit;
    /* gateway memory, when pids were given */
    long long gw_rss_base_kb, gw_rss_idle_kb;
    uint64_t conns_at_idle;
    bool sampled;
    int64_t t0_us;
    /* Confirmed orders per second over the whole run (first send of an
     * order to the last final result) and over the sending window (first
     * to last send; negative when it has no length). */
    double confirmed_per_s, confirmed_per_s_sending;
    double run_span_s, send_window_s;
    struct lg_slo_verdict slo; /* when --slo was given */
    /* --cleanup: the rooms the set-up made, and of those the ones closed
     * and cleared afterwards */
    int rooms_made, rooms_cleaned;
    bool rooms_not_deleted;  /* the server had no room delete: closed, totals cleared */
    int64_t workers_done_us; /* monotonic: no order of the run after this; 0 before */
    bool cleanup_tried;
    double wall_s;
    struct lg_cost_table cost; /* CPU per confirmed order, over the workers' lifetime */
};

void lg_bench_print_progress(const struct lg_bench_run *run, int second, bool tty);
/* Throughput over the spans the workers recorded, and the --slo verdict. */
void lg_bench_finish_figures(struct lg_bench_run *run);
void lg_bench_print_summary(const struct lg_bench_run *run, FILE *out);
int lg_bench_write_json(const struct lg_bench_run *run, const char *path);
int lg_bench_write_csv(const struct lg_bench_run *run, const char *path);

#endif
