/* main.c - livegate-bench: sets up the run's catalog, forks the worker
 * processes (one process may hold at most 20,000 open files here, so tens of
 * thousands of viewers need several), merges what they report each second
 * and at the end, audits the outcome, judges it against --slo, writes the
 * reports and, with --cleanup, closes and deletes the rooms it made. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "livegate/clock.h"
#include "livegate/fd.h"
#include "output.h"
#include "setup.h"
#include "worker.h"

struct pipe_reader {
    int fd;
    uint32_t type;
    size_t have, need;
    char *buf; /* sized for the largest message */
    bool done;
};

static struct lg_bench_second g_second;
static struct lg_bench_report g_report;

static int64_t self_cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
           ru.ru_stime.tv_usec;
}

/* Every process given is checked before anything runs: a mistyped pid must
 * not cost a whole run and then report nothing. */
static int cost_table_make(const struct lg_bench_opts *o, struct lg_cost_table *t)
{
    char err[256];
    lg_cost_init(t);
    for (int i = 0; i < o->ngateway_pids; i++)
        if (lg_cost_add_pid(t, "gateway", o->gateway_pids[i], err, sizeof(err))) {
            fprintf(stderr, "livegate-bench: --gateway-pid: %s\n", err);
            return -1;
        }
    for (int i = 0; i < o->npids; i++)
        if (lg_cost_add_pid(t, NULL, o->pids[i], err, sizeof(err))) {
            fprintf(stderr, "livegate-bench: --pid: %s\n", err);
            return -1;
        }
    return 0;
}

static long long rss_kb(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long long kb = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %lld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

static long long gateways_rss_kb(const struct lg_bench_opts *o)
{
    long long sum = 0;
    for (int i = 0; i < o->ngateway_pids; i++) {
        long long kb = rss_kb(o->gateway_pids[i]);
        if (kb > 0)
            sum += kb;
    }
    return sum;
}

static int grow_ticks(struct lg_bench_run *run, int second)
{
    if (second < run->nticks)
        return 0;
    struct lg_bench_tick *n = realloc(run->ticks, (size_t)(second + 1) * sizeof(*n));
    if (!n)
        return -1;
    for (int i = run->nticks; i <= second; i++) {
        memset(&n[i], 0, sizeof(n[i]));
        lg_hist_init(&n[i].accept);
        lg_hist_init(&n[i].result);
    }
    run->ticks = n;
    run->nticks = second + 1;
    return 0;
}

static void take_second(struct lg_bench_run *run, const struct lg_bench_second *s, bool tty)
{
    if (s->second < 0 || grow_ticks(run, s->second))
        return;
    struct lg_bench_tick *t = &run->ticks[s->second];
    t->conns_up += s->conns_up;
    t->submitted += s->submitted;
    t->accepted += s->accepted;
    t->results += s->results;
    t->errors += s->errors;
    t->cpu_us += s->cpu_us;
    lg_hist_merge(&t->accept, &s->accept);
    lg_hist_merge(&t->result, &s->result);
    if (++t->reported == run->o->procs) {
        /* Gateway memory per idle connection: sampled at the first whole
         * second half a second after the ramp, before the first order. */
        int64_t at = run->t0_us + (int64_t)(s->second + 1) * 1000000;
        if (!run->sampled && run->o->ngateway_pids &&
            at >= run->t0_us + (int64_t)(run->o->ramp_s * 1e6) + 500000) {
            run->sampled = true;
            run->gw_rss_idle_kb = gateways_rss_kb(run->o);
            run->conns_at_idle = t->conns_up;
        }
        lg_bench_print_progress(run, s->second, tty);
    }
}

/* Reads whatever the pipe has; dispatches each whole message. */
static int pump(struct pipe_reader *p, struct lg_bench_run *run, bool tty)
{
    for (;;) {
        char *dst = p->have < sizeof(uint32_t) ? (char *)&p->type + p->have
                                               : p->buf + p->have - sizeof(uint32_t);
        size_t want = p->have < sizeof(uint32_t) ? sizeof(uint32_t) - p->have
                                                 : p->need - (p->have - sizeof(uint32_t));
        ssize_t n = read(p->fd, dst, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return 0;
        if (n <= 0) {
            p->done = true;
            return 0;
        }
        p->have += (size_t)n;
        if (p->have == sizeof(uint32_t)) {
            p->need = p->type == LG_MSG_SECOND   ? sizeof(struct lg_bench_second)
                      : p->type == LG_MSG_REPORT ? sizeof(struct lg_bench_report)
                                                 : 0;
            if (!p->need)
                return -1;
        }
        if (p->have > sizeof(uint32_t) && p->have - sizeof(uint32_t) == p->need) {
            if (p->type == LG_MSG_SECOND) {
                memcpy(&g_second, p->buf, sizeof(g_second));
                take_second(run, &g_second, tty);
            } else {
                memcpy(&g_report, p->buf, sizeof(g_report));
                lg_bench_report_merge(&run->total, &g_report);
            }
            p->have = 0;
        }
    }
}

static pid_t spawn_worker(const struct lg_bench_opts *o, const struct lg_bench_plan *plan, int i,
                          int first, int count, int *read_fd)
{
    int fds[2];
    if (pipe(fds))
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        _exit(lg_bench_worker_run(o, plan, i, first, count, fds[1]));
    }
    close(fds[1]);
    /* Non-blocking: the parent drains every pipe in turn, and a read that
     * waited on one worker would stall the others on their full pipes. */
    fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
    *read_fd = fds[0];
    return pid;
}

static int run_bench(const struct lg_bench_opts *o, struct lg_bench_run *run)
{
    bool tty = isatty(STDERR_FILENO);
    char err[512];
    memset(run, 0, sizeof(*run));
    run->o = o;
    lg_bench_report_init(&run->total);
    /* Each viewer is a socket of its worker: say so before the workers run
     * out of descriptors half way through the ramp. */
    if (cost_table_make(o, &run->cost))
        return 2;
    int fd_limit = lg_fd_raise_limit(), per_proc = (o->conns + o->procs - 1) / o->procs;
    if (per_proc > fd_limit - 64) {
        fprintf(stderr,
                "livegate-bench: %d connections per worker but %d open files per process: use "
                "--procs %d or more\n",
                per_proc, fd_limit, (o->conns + fd_limit - 65) / (fd_limit - 64));
        return 2;
    }
    if (!o->no_setup && lg_bench_setup(o, &run->rooms_made, err, sizeof(err))) {
        fprintf(stderr, "livegate-bench: set-up failed: %s\n", err);
        return 2;
    }
    if (lg_bench_read_stock(o, &run->stock, 1, err, sizeof(err))) {
        fprintf(stderr, "livegate-bench: cannot read the catalog: %s\n", err);
        return 2;
    }
    run->gw_rss_base_kb = gateways_rss_kb(o);

    struct lg_bench_plan plan;
    int64_t started = lg_mono_us(), self_cpu_before = self_cpu_us();
    lg_cost_start(&run->cost);
    lg_bench_plan_make(o, started + 200000, &plan);
    run->t0_us = plan.t0_us;
    struct pipe_reader readers[64];
    pid_t pids[64];
    size_t biggest = sizeof(struct lg_bench_report) > sizeof(struct lg_bench_second)
                         ? sizeof(struct lg_bench_report)
                         : sizeof(struct lg_bench_second);
    int first = 0;
    for (int i = 0; i < o->procs; i++) {
        int count = o->conns / o->procs + (i < o->conns % o->procs ? 1 : 0);
        memset(&readers[i], 0, sizeof(readers[i]));
        readers[i].buf = malloc(biggest);
        pids[i] = spawn_worker(o, &plan, i, first, count, &readers[i].fd);
        if (pids[i] < 0 || !readers[i].buf) {
            fprintf(stderr, "livegate-bench: cannot start worker %d\n", i);
            return 2;
        }
        first += count;
    }
    int open = o->procs;
    while (open > 0) {
        struct pollfd pfd[64];
        int n = 0, map[64];
        for (int i = 0; i < o->procs; i++)
            if (!readers[i].done) {
                pfd[n].fd = readers[i].fd;
                pfd[n].events = POLLIN;
                map[n++] = i;
            }
        poll(pfd, (nfds_t)n, 100);
        for (int k = 0; k < n; k++)
            if (pfd[k].revents) {
                struct pipe_reader *p = &readers[map[k]];
                if (pump(p, run, tty) < 0)
                    p->done = true;
                if (p->done)
                    open--;
            }
    }
    int status = 0;
    for (int i = 0; i < o->procs; i++) {
        int ws;
        waitpid(pids[i], &ws, 0);
        if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
            status = 2;
        close(readers[i].fd);
        free(readers[i].buf);
    }
    run->workers_done_us = lg_mono_us();
    if (tty)
        fputc('\n', stderr);
    run->wall_s = (double)(lg_mono_us() - started) / 1e6;
    lg_cost_finish(&run->cost, sysconf(_SC_CLK_TCK));
    run->cost.interval_s = run->wall_s;
    if (status) {
        fprintf(stderr, "livegate-bench: a worker failed; no report\n");
        return status;
    }
    run->stock.done = lg_bench_read_stock(o, &run->stock, 0, err, sizeof(err)) == 0;
    if (!run->stock.done)
        fprintf(stderr, "livegate-bench: stock check: %s\n", err);
    lg_bench_finish_figures(run);
    /* The bench: its workers over their lifetime, and this process over the run. */
    lg_cost_set_self(&run->cost, run->total.cpu_us + (uint64_t)(self_cpu_us() - self_cpu_before));
    run->cost.confirmed = run->total.c.confirmed;
    lg_bench_audit_run(&run->total, &run->stock, &run->audit);
    return 0;
}

/* Whatever became of the run: rooms it made are closed and deleted, even
 * when a worker failed. */
static void cleanup_rooms(const struct lg_bench_opts *o, struct lg_bench_run *run)
{
    char err[512];
    if (!o->cleanup || run->rooms_made == 0)
        return;
    run->cleanup_tried = true;
    if (lg_bench_cleanup(o, run->rooms_made, run->workers_done_us, &run->rooms_cleaned,
                         &run->rooms_not_deleted, err, sizeof(err)))
        fprintf(stderr, "livegate-bench: --cleanup: %d of %d rooms left: %s\n",
                run->rooms_made - run->rooms_cleaned, run->rooms_made, err);
}

/* The documented exit status (see --help): the audit first, then the
 * targets, then the cleanup. */
static int exit_status(const struct lg_bench_run *run)
{
    if (!run->audit.ok)
        return 1;
    if (!run->slo.ok)
        return 3;
    if (run->cleanup_tried && run->rooms_cleaned != run->rooms_made)
        return 4;
    return 0;
}

int main(int argc, char **argv)
{
    static struct lg_bench_opts opts;
    static struct lg_bench_run run;
    char err[512];
    int rc = lg_bench_opts_parse(&opts, argc, argv, err, sizeof(err));
    if (rc != 0) {
        if (rc < 0)
            fprintf(stderr, "livegate-bench: %s\n", err);
        lg_bench_opts_free(&opts);
        return rc > 0 ? 0 : 2;
    }
    signal(SIGPIPE, SIG_IGN);
    rc = run_bench(&opts, &run);
    cleanup_rooms(&opts, &run);
    if (rc == 0) {
        lg_bench_print_summary(&run, stdout);
        if (opts.json_path[0] && lg_bench_write_json(&run, opts.json_path))
            fprintf(stderr, "livegate-bench: cannot write %s\n", opts.json_path);
        if (opts.csv_path[0] && lg_bench_write_csv(&run, opts.csv_path))
            fprintf(stderr, "livegate-bench: cannot write %s\n", opts.csv_path);
        rc = exit_status(&run);
    }
    free(run.ticks);
    lg_bench_opts_free(&opts);
    return rc;
}
