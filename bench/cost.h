/* cost.h - the cost per order: CPU microseconds each process spent over a
 * run, divided by the orders confirmed in it (DESIGN.md, principle 9). The
 * bench reads user + system time of the processes it was given from
 * /proc/PID/stat before and after the run, with the time of the children
 * each one waited for: Redis forks to rewrite its AOF, several times in a
 * max run, and that CPU is the store's cost of the orders too, though it
 * never shows in the parent's own time. Parsing that line and the
 * arithmetic are pure so the unit tests cover the odd cases (a process
 * name with spaces and parentheses, a truncated line, no orders). */
#ifndef LG_BENCH_COST_H
#define LG_BENCH_COST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define LG_COST_NAME_MAX 32  /* a process name: at most 15 characters on Linux */
#define LG_COST_MAX_ROWS 130 /* the bench, --gateway-pid and --pid (64 each) */

/* What one /proc/PID/stat line says about CPU time. */
struct lg_cost_stat {
    char comm[LG_COST_NAME_MAX]; /* field 2, without its parentheses */
    uint64_t utime_ticks;        /* field 14 */
    uint64_t stime_ticks;        /* field 15 */
    uint64_t cutime_ticks;       /* field 16: children waited for, user */
    uint64_t cstime_ticks;       /* field 17: children waited for, system */
};

/* Parses the text of /proc/PID/stat. The name (field 2) may hold spaces and
 * parentheses, so the fields after it are found from the last ')'. Returns
 * 0, or -1 for text that is not such a line. */
int lg_cost_parse_stat(const char *text, size_t len, struct lg_cost_stat *out);

/* Reads /proc/PID/stat. Returns 0, or -1 (with a message in err) when there
 * is no such process or its line does not parse. */
int lg_cost_read_pid(int pid, struct lg_cost_stat *out, char *err, size_t errsz);

/* Clock ticks to microseconds, ticks_per_s from sysconf(_SC_CLK_TCK). */
uint64_t lg_cost_ticks_to_us(uint64_t ticks, long ticks_per_s);

/* CPU microseconds per confirmed order; a negative value when there was no
 * confirmed order (there is no cost per order to speak of). */
double lg_cost_per_order(uint64_t cpu_us, uint64_t confirmed);

/* One row of the cost table. */
struct lg_cost_row {
    char what[48]; /* "bench", "gateway", or the process's name */
    int pid;       /* 0 for the bench (all its processes) */
    uint64_t before_ticks, after_ticks;
    uint64_t before_child_ticks, after_child_ticks;
    uint64_t cpu_us;   /* its own, over the measured interval */
    uint64_t child_us; /* of the children it waited for in that interval */
    bool gone;         /* the process ended before the run did */
};

struct lg_cost_table {
    struct lg_cost_row row[LG_COST_MAX_ROWS];
    int n;
    uint64_t confirmed;
    double interval_s;
};

/* A row's CPU over the interval, its own and its children's: what its cost
 * per order is taken from. */
uint64_t lg_cost_row_us(const struct lg_cost_row *r);

/* An empty table whose first row is the bench itself. */
void lg_cost_init(struct lg_cost_table *t);
/* Adds the row of process pid, reading its CPU time now. Returns 0, or -1
 * with a message in err (no such process, or the table is full). */
int lg_cost_add_pid(struct lg_cost_table *t, const char *what, int pid, char *err, size_t errsz);
/* Starts the measured interval: reads every process row's CPU time again. */
void lg_cost_start(struct lg_cost_table *t);
/* Reads every process row's CPU time again, at the end of the interval. */
void lg_cost_finish(struct lg_cost_table *t, long ticks_per_s);
/* The bench's own row, from CPU microseconds it measured itself. */
void lg_cost_set_self(struct lg_cost_table *t, uint64_t cpu_us);

void lg_cost_print(const struct lg_cost_table *t, FILE *out);

#endif
