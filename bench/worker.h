/* worker.h - one bench worker process: its share of the viewers, driven on
 * one libuv loop, reporting to the parent over a pipe. */
#ifndef LG_BENCH_WORKER_H
#define LG_BENCH_WORKER_H

#include <stdint.h>

#include "options.h"

/* The parent and its workers share one timeline, so a burst's "buy!" moment
 * falls at the same instant in every process. All times are CLOCK_MONOTONIC
 * microseconds, which every process on the machine reads alike. */
struct lg_bench_plan {
    int64_t t0_us;         /* connections start opening */
    int64_t send_start_us; /* the first planned send */
    int64_t send_end_us;   /* no send is planned after this */
};

void lg_bench_plan_make(const struct lg_bench_opts *o, int64_t t0_us, struct lg_bench_plan *p);

/* Messages on the worker-to-parent pipe: a uint32_t type, then the struct. */
enum lg_bench_msg { LG_MSG_SECOND = 1, LG_MSG_REPORT = 2 };

/* Runs worker `index` of o->procs with viewers [first, first + count) and
 * returns its exit status. fd is the pipe to the parent. */
int lg_bench_worker_run(const struct lg_bench_opts *o, const struct lg_bench_plan *plan, int index,
                        int first, int count, int fd);

#endif
