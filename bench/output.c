/* output.c - turns the merged run into what people read: a progress line a
 * second, the end-of-run summary, --json and --csv. Latencies are kept in
 * microseconds and shown in milliseconds. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "output.h"
#include "retry.h"

static double ms(uint64_t us)
{
    return (double)us / 1000.0;
}

void lg_bench_print_progress(const struct lg_bench_run *run, int second, bool tty)
{
    const struct lg_bench_tick *t = &run->ticks[second];
    double cpu = (double)t->cpu_us / 1e6 * 100.0;
    fprintf(stderr,
            "%s[%4ds] conns %6llu  sent %6llu/s  accepted %6llu/s  results %6llu/s  errors %4llu"
            "  accept p99 %7.1f ms  result p99 %7.1f ms  bench cpu %3.0f%%%s",
            tty ? "\r" : "", second + 1, (unsigned long long)t->conns_up,
            (unsigned long long)t->submitted, (unsigned long long)t->accepted,
            (unsigned long long)t->results, (unsigned long long)t->errors,
            ms(lg_hist_percentile(&t->accept, 99)), ms(lg_hist_percentile(&t->result, 99)), cpu,
            tty ? "   " : "\n");
    fflush(stderr);
}

/* Over exact spans, not whole seconds of the timeline: a burst decided
 * within one second can straddle two, and halve a per-second figure. */
void lg_bench_finish_figures(struct lg_bench_run *run)
{
    const struct lg_bench_report *r = &run->total;
    double confirmed = (double)r->c.confirmed;
    int64_t end = r->last_final_us > r->last_send_us ? r->last_final_us : r->last_send_us;
    run->send_window_s = r->first_send_us ? (double)(r->last_send_us - r->first_send_us) / 1e6 : 0;
    run->run_span_s = r->first_send_us ? (double)(end - r->first_send_us) / 1e6 : 0;
    run->confirmed_per_s = run->run_span_s > 0 ? confirmed / run->run_span_s : 0;
    run->confirmed_per_s_sending = run->send_window_s > 0 ? confirmed / run->send_window_s : -1;
    struct lg_slo_rates rates = {run->confirmed_per_s, run->confirmed_per_s_sending};
    lg_slo_judge(&run->o->slo, r, &rates, &run->slo);
}

static const double PCTS[] = {50, 90, 99, 99.9, 100};
static const char *const PCT_NAMES[] = {"p50", "p90", "p99", "p99.9", "max"};

static void print_hist(FILE *out, const char *name, const struct lg_hist *h)
{
    fprintf(out, "  %-16s n=%-8llu", name, (unsigned long long)h->total);
    for (int i = 0; i < 5; i++)
        fprintf(out, " %s %8.1f", PCT_NAMES[i], ms(lg_hist_percentile(h, PCTS[i])));
    fprintf(out, "  (ms)\n");
}

/* BUSY and RATE_LIMITED are answered as a client must: wait retry_after_ms,
 * resubmit the same client_order_id. Shown only when something was refused
 * or resent, so a run without refusals reads as before. */
static void print_retries(const struct lg_bench_report *r, FILE *out)
{
    if (!r->a.refusals_retryable && !r->c.resubmits_after_close)
        return;
    fprintf(out,
            "retries: %llu refusals (BUSY=%llu RATE_LIMITED=%llu), %llu resubmits after "
            "retry_after_ms; %llu orders accepted after >= 1 retry (%llu high-value), "
            "%llu refused and never accepted (%llu gave up after %d retries, %llu still "
            "waiting when the run ended)\n",
            (unsigned long long)r->a.refusals_retryable,
            (unsigned long long)r->c.errors_by_code[LG_EC_BUSY],
            (unsigned long long)r->c.errors_by_code[LG_EC_RATE_LIMITED],
            (unsigned long long)r->c.retries, (unsigned long long)r->c.admitted_after_retry,
            (unsigned long long)r->c.admitted_after_retry_high,
            (unsigned long long)(r->c.refused_gave_up + r->c.refused_waiting),
            (unsigned long long)r->c.refused_gave_up, LG_BENCH_RETRY_MAX,
            (unsigned long long)r->c.refused_waiting);
    if (r->admit_after_retry.total)
        fprintf(out,
                "  first send to acceptance, retried orders: p50 %.1f p99 %.1f max %.1f ms "
                "(accept and result latencies of every order also run from its first send)\n",
                ms(lg_hist_percentile(&r->admit_after_retry, 50)),
                ms(lg_hist_percentile(&r->admit_after_retry, 99)),
                ms(lg_hist_percentile(&r->admit_after_retry, 100)));
    if (r->c.resubmits_after_close)
        fprintf(out,
                "  %llu submits resent on the viewer's next connection: theirs closed before "
                "any answer\n",
                (unsigned long long)r->c.resubmits_after_close);
}

/* One line however the run went: the whole run's figure first (what was
 * decided, and how fast), then the sending window's (what was offered). */
static void print_throughput(const struct lg_bench_run *run, FILE *out)
{
    fprintf(out,
            "throughput: %.0f confirmed orders/s over the whole run (first send to last final "
            "result, %.2f s); ",
            run->confirmed_per_s, run->run_span_s);
    if (run->confirmed_per_s_sending >= 0)
        fprintf(out, "%.0f/s over the sending window (first to last send, %.2f s)",
                run->confirmed_per_s_sending, run->send_window_s);
    else
        fprintf(out, "the sending window has no length (every order sent at once, or none)");
    fprintf(out, "; GMV %.2f CNY\n", (double)run->total.c.gmv_fen / 100.0);
}

/* Histograms with no sample are left out, and the heading with them. */
static void print_latencies(const struct lg_bench_report *r, FILE *out)
{
    const struct {
        const char *name;
        const struct lg_hist *h;
    } rows[] = {{"accept high", &r->accept[1]},
                {"accept normal", &r->accept[0]},
                {"result high", &r->result[1]},
                {"result normal", &r->result[0]}};
    bool any = false;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        any = any || rows[i].h->total;
    if (!any)
        return;
    fprintf(out, "latency from the intended send time (of the first submit, for a retried "
                 "order):\n");
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        if (rows[i].h->total)
            print_hist(out, rows[i].name, rows[i].h);
    uint64_t finals = r->c.confirmed + r->c.rejected;
    uint64_t pushed = r->result[0].total + r->result[1].total;
    if (finals)
        fprintf(out,
                "  result figures: the %llu of %llu final results pushed to the connection "
                "that submitted, still open\n",
                (unsigned long long)pushed, (unsigned long long)finals);
}

/* Rejections, refusals and close codes: a line each, only when it has one. */
static void print_codes(const struct lg_bench_report *r, FILE *out)
{
    int n = 0;
    for (int i = 0; i < LG_RC_COUNT; i++)
        if (r->c.rejected_by_code[i])
            fprintf(out, "%s %s=%llu",
                    n++ ? "" : "rejections:", lg_reject_code_name((enum lg_reject_code)i),
                    (unsigned long long)r->c.rejected_by_code[i]);
    if (n)
        fputc('\n', out);
    n = 0;
    for (int i = 0; i < LG_EC_COUNT; i++)
        if (r->c.errors_by_code[i])
            fprintf(out, "%s %s=%llu",
                    n++ ? "" : "errors:", lg_error_code_name((enum lg_error_code)i),
                    (unsigned long long)r->c.errors_by_code[i]);
    if (n)
        fputc('\n', out);
    n = 0;
    for (int i = 0; i < LG_BENCH_CLOSE_SLOTS; i++)
        if (r->c.close_counts[i])
            fprintf(out, "%s %d=%llu", n++ ? "" : "close codes:", r->c.close_codes[i],
                    (unsigned long long)r->c.close_counts[i]);
    if (n)
        fputc('\n', out);
}

static void print_cleanup(const struct lg_bench_run *run, FILE *out)
{
    if (!run->cleanup_tried)
        return;
    fprintf(out,
            "cleanup: %d of %d rooms closed and %s (out of the back office's "
            "\"*\" figures)%s\n",
            run->rooms_cleaned, run->rooms_made,
            run->rooms_not_deleted ? "their totals cleared (the server has no room delete)"
                                   : "deleted",
            run->rooms_cleaned == run->rooms_made ? "" : " - FAILED for the others");
}

static void print_slo(const struct lg_bench_run *run, FILE *out)
{
    const struct lg_slo_set *s = &run->o->slo;
    if (!s->n)
        return;
    fprintf(out, "slo:\n");
    char line[256];
    for (int i = 0; i < s->n; i++) {
        lg_slo_describe(&s->t[i], &run->slo.r[i], line, sizeof(line));
        fprintf(out, "  [%s] %s\n", run->slo.r[i].ok ? "ok" : "FAIL", line);
    }
    if (run->slo.ok) {
        fprintf(out, "slo passed (%d targets)\n", s->n);
        return;
    }
    fprintf(out, "slo FAILED:");
    for (int i = 0; i < s->n; i++)
        if (!run->slo.r[i].ok)
            fprintf(out, " %s", s->t[i].name);
    fputc('\n', out);
}

void lg_bench_print_summary(const struct lg_bench_run *run, FILE *out)
{
    const struct lg_bench_opts *o = run->o;
    const struct lg_bench_report *r = &run->total;
    fprintf(out, "\nlivegate-bench %s: %d connections, %d worker process(es), run %s\n",
            lg_bench_shape_name(o->shape), o->conns, o->procs, o->run_id);
    fprintf(out,
            "connections: %llu up at most, %llu attempts, %llu failed, %llu closed by the "
            "server, %llu reconnects\n",
            (unsigned long long)r->conns_max_up, (unsigned long long)r->c.conn_attempts,
            (unsigned long long)r->c.conn_failed, (unsigned long long)r->c.conn_closed_by_server,
            (unsigned long long)r->c.reconnects);
    fprintf(out,
            "orders: %llu submitted (%llu resends, %llu broken on purpose), %llu accepted "
            "(%llu high), %llu confirmed, %llu rejected\n",
            (unsigned long long)r->c.submitted, (unsigned long long)r->c.duplicates_sent,
            (unsigned long long)r->c.invalid_sent, (unsigned long long)r->c.accepted,
            (unsigned long long)r->c.accepted_high, (unsigned long long)r->c.confirmed,
            (unsigned long long)r->c.rejected);
    print_throughput(run, out);
    print_latencies(r, out);
    if (r->a.after_reconnect) {
        fprintf(out,
                "  %llu results of orders whose connection closed first (resent on a new one) "
                "are apart: %llu learned by order.query, the rest pushed on the new connection "
                "or with a duplicate's reply; latency = when the bench learned it (an upper "
                "bound):\n",
                (unsigned long long)r->a.after_reconnect,
                (unsigned long long)(r->a.recovered_by_query - r->a.push_missing));
        print_hist(out, "after reconnect", &r->result_after_reconnect);
    }
    print_retries(r, out);
    print_codes(r, out);
    fprintf(out, "bench cpu: %.1f s over %.1f s; busiest worker second %.0f%% of a core\n",
            (double)r->cpu_us / 1e6, run->wall_s, r->busy_ratio_max * 100);
    if (r->busy_ratio_max >= 0.9)
        fprintf(out,
                "WARNING: a bench worker was busy %.0f%% of a second: the bench, not the "
                "server, may be the bottleneck. Add --procs.\n",
                r->busy_ratio_max * 100);
    lg_cost_print(&run->cost, out);
    if (o->ngateway_pids && run->conns_at_idle)
        fprintf(out,
                "gateway memory: %lld KiB before, %lld KiB with %llu idle connections: "
                "%.1f KiB per connection\n",
                run->gw_rss_base_kb, run->gw_rss_idle_kb, (unsigned long long)run->conns_at_idle,
                (double)(run->gw_rss_idle_kb - run->gw_rss_base_kb) / (double)run->conns_at_idle);
    fprintf(out, "audit:\n");
    for (int i = 0; i < run->audit.n; i++)
        fprintf(out, "  [%s] %s: %s\n", run->audit.line[i].ok ? "ok" : "FAIL",
                run->audit.line[i].what, run->audit.line[i].detail);
    fprintf(out, "audit %s\n", run->audit.ok ? "passed" : "FAILED");
    print_cleanup(run, out);
    print_slo(run, out);
}

static json_t *hist_json(const struct lg_hist *h)
{
    json_t *j = json_pack("{s:I}", "count", (json_int_t)h->total);
    for (int i = 0; i < 5; i++)
        json_object_set_new(j, PCT_NAMES[i], json_real(ms(lg_hist_percentile(h, PCTS[i]))));
    return j;
}

/* confirmed_per_s (top level) is the whole run's figure; both are here,
 * with the spans they cover. */
static json_t *throughput_json(const struct lg_bench_run *run)
{
    return json_pack("{s:f,s:f,s:o,s:f}", "confirmed_per_s_run", run->confirmed_per_s, "run_s",
                     run->run_span_s, "confirmed_per_s_sending",
                     run->confirmed_per_s_sending < 0 ? json_null()
                                                      : json_real(run->confirmed_per_s_sending),
                     "sending_window_s", run->send_window_s);
}

/* Latencies in ms, counts as numbers, rates per second; null when there
 * was nothing to judge. */
static json_t *slo_json(const struct lg_bench_run *run)
{
    const struct lg_slo_set *s = &run->o->slo;
    json_t *targets = json_array();
    for (int i = 0; i < s->n; i++) {
        const struct lg_slo_target *t = &s->t[i];
        const struct lg_slo_result *r = &run->slo.r[i];
        double v = t->kind == LG_SLO_LATENCY ? r->value / 1000.0 : r->value;
        const char *unit = t->kind == LG_SLO_LATENCY ? "ms"
                           : t->kind == LG_SLO_RATE  ? "per_s"
                                                     : "count";
        json_array_append_new(targets,
                              json_pack("{s:s,s:s,s:s,s:o,s:s,s:I,s:b}", "target", t->name, "op",
                                        t->at_least ? ">=" : "<=", "bound", t->bound, "measured",
                                        r->measured ? json_real(v) : json_null(), "unit", unit,
                                        "samples", (json_int_t)r->samples, "ok", r->ok));
    }
    return json_pack("{s:b,s:o}", "ok", run->slo.ok, "targets", targets);
}

int lg_bench_write_json(const struct lg_bench_run *run, const char *path)
{
    const struct lg_bench_opts *o = run->o;
    const struct lg_bench_report *r = &run->total;
    json_t *rej = json_object(), *err = json_object(), *closes = json_object();
    for (int i = 0; i < LG_RC_COUNT; i++)
        json_object_set_new(rej, lg_reject_code_name((enum lg_reject_code)i),
                            json_integer((json_int_t)r->c.rejected_by_code[i]));
    for (int i = 0; i < LG_EC_COUNT; i++)
        json_object_set_new(err, lg_error_code_name((enum lg_error_code)i),
                            json_integer((json_int_t)r->c.errors_by_code[i]));
    for (int i = 0; i < LG_BENCH_CLOSE_SLOTS; i++)
        if (r->c.close_counts[i]) {
            char k[16];
            snprintf(k, sizeof(k), "%d", r->c.close_codes[i]);
            json_object_set_new(closes, k, json_integer((json_int_t)r->c.close_counts[i]));
        }
    json_t *audit = json_array();
    for (int i = 0; i < run->audit.n; i++)
        json_array_append_new(audit,
                              json_pack("{s:s,s:s,s:b}", "check", run->audit.line[i].what, "detail",
                                        run->audit.line[i].detail, "ok", run->audit.line[i].ok));
    json_t *doc = json_pack(
        "{s:s,s:s,s:{s:i,s:i,s:f,s:f,s:f,s:i,s:i,s:f,s:f,s:f,s:f,s:f,s:i,s:i,s:I},"
        "s:{s:I,s:I,s:I,s:I,s:I},"
        "s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I},"
        "s:f,s:{s:o,s:o,s:o,s:o,s:o},s:o,s:o,s:o,"
        "s:{s:f,s:f,s:f},s:o,s:b}",
        "shape", lg_bench_shape_name(o->shape), "run_id", o->run_id, "options", "conns", o->conns,
        "procs", o->procs, "rate", o->rate, "duration_s", o->duration_s, "window_s", o->window_s,
        "bursts", o->bursts, "inflight", o->inflight, "dup_share", o->dup_share, "high_share",
        o->high_share, "vip_share", o->vip_share, "invalid_share", o->invalid_share, "coupon_share",
        o->coupon_share, "rooms", o->rooms, "skus", o->skus, "stock", (json_int_t)o->stock,
        "connections", "max_up", (json_int_t)r->conns_max_up, "attempts",
        (json_int_t)r->c.conn_attempts, "failed", (json_int_t)r->c.conn_failed, "closed_by_server",
        (json_int_t)r->c.conn_closed_by_server, "reconnects", (json_int_t)r->c.reconnects, "orders",
        "submitted", (json_int_t)r->c.submitted, "resends", (json_int_t)r->c.duplicates_sent,
        "resends_answered_duplicate", (json_int_t)r->c.duplicates_accepted, "invalid_sent",
        (json_int_t)r->c.invalid_sent, "invalid_refused", (json_int_t)r->c.invalid_rejected,
        "accepted", (json_int_t)r->c.accepted, "accepted_high", (json_int_t)r->c.accepted_high,
        "confirmed", (json_int_t)r->c.confirmed, "rejected", (json_int_t)r->c.rejected, "gmv_fen",
        (json_int_t)r->c.gmv_fen, "confirmed_per_s", run->confirmed_per_s, "latency_ms",
        "accept_high", hist_json(&r->accept[1]), "accept_normal", hist_json(&r->accept[0]),
        "result_high", hist_json(&r->result[1]), "result_normal", hist_json(&r->result[0]),
        "result_after_reconnect", hist_json(&r->result_after_reconnect), "rejected_by_code", rej,
        "errors_by_code", err, "close_codes", closes, "bench", "cpu_s", (double)r->cpu_us / 1e6,
        "wall_s", run->wall_s, "busiest_worker_second", r->busy_ratio_max, "audit", audit,
        "audit_ok", run->audit.ok);
    json_object_set_new(json_object_get(doc, "options"), "inflight_until",
                        json_string(o->inflight_until_accept ? "accept" : "result"));
    json_object_set_new(
        doc, "audit_counts",
        json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "lost",
                  (json_int_t)r->a.lost, "doubled", (json_int_t)r->a.doubled, "after_reconnect",
                  (json_int_t)r->a.after_reconnect, "recovered_by_query",
                  (json_int_t)r->a.recovered_by_query, "push_missing",
                  (json_int_t)r->a.push_missing, "late", (json_int_t)r->a.late, "dup_wrong",
                  (json_int_t)r->a.dup_wrong, "invalid_wrong", (json_int_t)r->a.invalid_wrong,
                  "valid_refused", (json_int_t)r->a.valid_refused, "priority_wrong",
                  (json_int_t)r->a.priority_wrong, "unanswered", (json_int_t)r->a.unanswered,
                  "out_of_order", (json_int_t)r->a.out_of_order, "refused_but_queued",
                  (json_int_t)r->a.refused_but_queued, "unavailable_but_queued",
                  (json_int_t)r->a.unavailable_but_queued));
    json_t *ac = json_object_get(doc, "audit_counts");
    json_object_set_new(ac, "unsent", json_integer((json_int_t)r->a.unsent));
    json_object_set_new(ac, "refusal_no_retry_after",
                        json_integer((json_int_t)r->a.refusal_no_retry_after));
    json_object_set_new(ac, "refused_only_queued",
                        json_integer((json_int_t)r->a.refused_only_queued));
    json_object_set_new(ac, "refused_only_checked",
                        json_integer((json_int_t)r->a.refused_only_checked));
    json_t *retries = json_pack(
        "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:i,s:o}", "refusals",
        (json_int_t)r->a.refusals_retryable, "busy", (json_int_t)r->c.errors_by_code[LG_EC_BUSY],
        "rate_limited", (json_int_t)r->c.errors_by_code[LG_EC_RATE_LIMITED], "resubmits",
        (json_int_t)r->c.retries, "resubmits_after_close", (json_int_t)r->c.resubmits_after_close,
        "admitted_after_retry", (json_int_t)r->c.admitted_after_retry, "admitted_after_retry_high",
        (json_int_t)r->c.admitted_after_retry_high, "refused_gave_up",
        (json_int_t)r->c.refused_gave_up, "refused_waiting_at_end",
        (json_int_t)r->c.refused_waiting, "retry_max", LG_BENCH_RETRY_MAX,
        "first_send_to_accept_ms", hist_json(&r->admit_after_retry));
    json_object_set_new(doc, "retries", retries);
    if (o->ngateway_pids && run->conns_at_idle)
        json_object_set_new(doc, "gateway_memory",
                            json_pack("{s:I,s:I,s:I,s:f}", "rss_before_kb",
                                      (json_int_t)run->gw_rss_base_kb, "rss_idle_kb",
                                      (json_int_t)run->gw_rss_idle_kb, "idle_connections",
                                      (json_int_t)run->conns_at_idle, "kb_per_connection",
                                      (double)(run->gw_rss_idle_kb - run->gw_rss_base_kb) /
                                          (double)run->conns_at_idle));
    json_object_set_new(doc, "throughput", throughput_json(run));
    if (o->slo.n)
        json_object_set_new(doc, "slo", slo_json(run));
    if (run->cleanup_tried)
        json_object_set_new(doc, "cleanup",
                            json_pack("{s:i,s:i,s:b}", "rooms_made", run->rooms_made,
                                      "rooms_cleaned", run->rooms_cleaned, "deleted",
                                      !run->rooms_not_deleted));
    json_t *rows = json_array();
    for (int i = 0; i < run->cost.n; i++) {
        const struct lg_cost_row *c = &run->cost.row[i];
        double per = lg_cost_per_order(lg_cost_row_us(c), run->cost.confirmed);
        json_array_append_new(
            rows, json_pack("{s:s,s:i,s:f,s:f,s:o,s:b}", "process", c->what, "pid", c->pid, "cpu_s",
                            (double)c->cpu_us / 1e6, "children_cpu_s", (double)c->child_us / 1e6,
                            "us_per_order", per < 0 ? json_null() : json_real(per), "ended_early",
                            c->gone));
    }
    json_object_set_new(doc, "cost",
                        json_pack("{s:f,s:I,s:o}", "interval_s", run->cost.interval_s, "confirmed",
                                  (json_int_t)run->cost.confirmed, "processes", rows));
    int rc = doc ? json_dump_file(doc, path, JSON_INDENT(2)) : -1;
    json_decref(doc);
    return rc;
}

int lg_bench_write_csv(const struct lg_bench_run *run, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "second,conns_up,sent,accepted,results,errors,accept_p50_ms,accept_p99_ms,"
               "accept_max_ms,result_p50_ms,result_p99_ms,result_max_ms,bench_cpu_pct\n");
    for (int i = 0; i < run->nticks; i++) {
        const struct lg_bench_tick *t = &run->ticks[i];
        fprintf(f, "%d,%llu,%llu,%llu,%llu,%llu,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.1f\n", i + 1,
                (unsigned long long)t->conns_up, (unsigned long long)t->submitted,
                (unsigned long long)t->accepted, (unsigned long long)t->results,
                (unsigned long long)t->errors, ms(lg_hist_percentile(&t->accept, 50)),
                ms(lg_hist_percentile(&t->accept, 99)), ms(lg_hist_percentile(&t->accept, 100)),
                ms(lg_hist_percentile(&t->result, 50)), ms(lg_hist_percentile(&t->result, 99)),
                ms(lg_hist_percentile(&t->result, 100)), (double)t->cpu_us / 1e4);
    }
    return fclose(f);
}
