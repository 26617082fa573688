/* cost.c - CPU time per confirmed order for the bench and the processes of
 * the system under test. Linux only: the times come from /proc/PID/stat,
 * fields 14 (utime) and 15 (stime), in clock ticks, and 16 and 17 (cutime,
 * cstime) for the children a process waited for. A child still running at
 * the end (an AOF rewrite under way) is not counted: its time reaches the
 * parent's fields only once it is waited for. Ticks are coarse (10 ms
 * at 100 Hz), which over a run of seconds and thousands of orders is well
 * under the run-to-run noise. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cost.h"

/* Skips one space-separated field; returns the start of the next, or NULL. */
static const char *next_field(const char *p, const char *end)
{
    while (p < end && *p != ' ')
        p++;
    while (p < end && *p == ' ')
        p++;
    return p < end ? p : NULL;
}

static int parse_u64(const char *p, const char *end, uint64_t *out)
{
    uint64_t v = 0;
    const char *start = p;
    while (p < end && *p >= '0' && *p <= '9') {
        if (v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
        p++;
    }
    if (p == start || (p < end && *p != ' ' && *p != '\n'))
        return -1;
    *out = v;
    return 0;
}

int lg_cost_parse_stat(const char *text, size_t len, struct lg_cost_stat *out)
{
    const char *end = text + len;
    const char *open = memchr(text, '(', len);
    const char *close = NULL;
    for (const char *p = end; p > text; p--)
        if (p[-1] == ')') {
            close = p - 1;
            break;
        }
    if (!open || !close || close < open || close + 1 >= end || close[1] != ' ')
        return -1;
    memset(out, 0, sizeof(*out));
    size_t n = (size_t)(close - open - 1);
    if (n >= sizeof(out->comm))
        n = sizeof(out->comm) - 1;
    memcpy(out->comm, open + 1, n);
    out->comm[n] = '\0';
    /* close + 2 is field 3 (state); utime is field 14, stime field 15. */
    const char *p = close + 2;
    for (int field = 3; p && field < 14; field++)
        p = next_field(p, end);
    if (!p || parse_u64(p, end, &out->utime_ticks))
        return -1;
    uint64_t *rest[] = {&out->stime_ticks, &out->cutime_ticks, &out->cstime_ticks};
    for (size_t i = 0; i < sizeof(rest) / sizeof(rest[0]); i++) {
        p = next_field(p, end);
        if (!p || parse_u64(p, end, rest[i]))
            return -1;
    }
    return 0;
}

int lg_cost_read_pid(int pid, struct lg_cost_stat *out, char *err, size_t errsz)
{
    char path[48], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errsz, "no process %d (%s)", pid, strerror(errno));
        return -1;
    }
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0 || lg_cost_parse_stat(buf, (size_t)n, out)) {
        snprintf(err, errsz, "cannot read the CPU time of process %d from %s", pid, path);
        return -1;
    }
    return 0;
}

uint64_t lg_cost_ticks_to_us(uint64_t ticks, long ticks_per_s)
{
    if (ticks_per_s <= 0)
        return 0;
    return ticks / (uint64_t)ticks_per_s * 1000000u +
           ticks % (uint64_t)ticks_per_s * 1000000u / (uint64_t)ticks_per_s;
}

uint64_t lg_cost_row_us(const struct lg_cost_row *r)
{
    return r->cpu_us + r->child_us;
}

static uint64_t own_ticks(const struct lg_cost_stat *st)
{
    return st->utime_ticks + st->stime_ticks;
}

static uint64_t child_ticks(const struct lg_cost_stat *st)
{
    return st->cutime_ticks + st->cstime_ticks;
}

static uint64_t ticks_between(uint64_t before, uint64_t after, long ticks_per_s)
{
    return lg_cost_ticks_to_us(after > before ? after - before : 0, ticks_per_s);
}

double lg_cost_per_order(uint64_t cpu_us, uint64_t confirmed)
{
    return confirmed ? (double)cpu_us / (double)confirmed : -1.0;
}

void lg_cost_init(struct lg_cost_table *t)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->row[0].what, sizeof(t->row[0].what), "bench");
    t->n = 1;
}

int lg_cost_add_pid(struct lg_cost_table *t, const char *what, int pid, char *err, size_t errsz)
{
    struct lg_cost_stat st;
    if (t->n == LG_COST_MAX_ROWS) {
        snprintf(err, errsz, "more than %d processes to measure", LG_COST_MAX_ROWS - 1);
        return -1;
    }
    if (pid <= 0 || lg_cost_read_pid(pid, &st, err, errsz))
        return -1;
    struct lg_cost_row *r = &t->row[t->n++];
    memset(r, 0, sizeof(*r));
    snprintf(r->what, sizeof(r->what), "%s", what && *what ? what : st.comm);
    r->pid = pid;
    r->before_ticks = own_ticks(&st);
    r->before_child_ticks = child_ticks(&st);
    return 0;
}

void lg_cost_start(struct lg_cost_table *t)
{
    char err[128];
    for (int i = 1; i < t->n; i++) {
        struct lg_cost_stat st;
        if (lg_cost_read_pid(t->row[i].pid, &st, err, sizeof(err)) == 0) {
            t->row[i].before_ticks = own_ticks(&st);
            t->row[i].before_child_ticks = child_ticks(&st);
        }
    }
}

void lg_cost_finish(struct lg_cost_table *t, long ticks_per_s)
{
    char err[128];
    for (int i = 1; i < t->n; i++) {
        struct lg_cost_row *r = &t->row[i];
        struct lg_cost_stat st;
        if (lg_cost_read_pid(r->pid, &st, err, sizeof(err))) {
            r->gone = true;
            r->after_ticks = r->before_ticks;
            r->after_child_ticks = r->before_child_ticks;
        } else {
            r->after_ticks = own_ticks(&st);
            r->after_child_ticks = child_ticks(&st);
        }
        r->cpu_us = ticks_between(r->before_ticks, r->after_ticks, ticks_per_s);
        r->child_us = ticks_between(r->before_child_ticks, r->after_child_ticks, ticks_per_s);
    }
}

void lg_cost_set_self(struct lg_cost_table *t, uint64_t cpu_us)
{
    t->row[0].cpu_us = cpu_us;
}

void lg_cost_print(const struct lg_cost_table *t, FILE *out)
{
    fprintf(out,
            "cost per confirmed order (CPU user+system over %.1f s, %llu confirmed; us/order "
            "counts the children a process waited for, such as Redis's AOF rewrites):\n",
            t->interval_s, (unsigned long long)t->confirmed);
    fprintf(out, "  %-22s %8s %10s %10s %12s\n", "process", "pid", "cpu s", "children s",
            "us/order");
    for (int i = 0; i < t->n; i++) {
        const struct lg_cost_row *r = &t->row[i];
        double per = lg_cost_per_order(lg_cost_row_us(r), t->confirmed);
        char pid[16];
        snprintf(pid, sizeof(pid), "%d", r->pid);
        fprintf(out, "  %-22s %8s %10.2f %10.2f ", r->what, r->pid ? pid : "-",
                (double)r->cpu_us / 1e6, (double)r->child_us / 1e6);
        if (per < 0)
            fprintf(out, "%12s", "-");
        else
            fprintf(out, "%12.1f", per);
        fprintf(out, "%s\n", r->gone ? "  (ended during the run: CPU until then unknown)" : "");
    }
}
