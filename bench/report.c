/* report.c - merging the workers' reports and the end-of-run audit. No I/O:
 * the audit's verdict depends only on the numbers, so tests can feed it a
 * report with a lost or oversold order and watch it fail. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "report.h"
#include "retry.h"

static const char *const REJECT_NAMES[LG_RC_COUNT] = {"UNKNOWN_SKU",
                                                      "NOT_ON_SALE",
                                                      "PRICE_CHANGED",
                                                      "OUT_OF_STOCK",
                                                      "LIMIT_EXCEEDED",
                                                      "COUPON_INVALID",
                                                      "PAYMENT_METHOD_NOT_ALLOWED",
                                                      "ROOM_CLOSED",
                                                      "INVALID_FIELD",
                                                      "EXPIRED",
                                                      "other"};
static const char *const ERROR_NAMES[LG_EC_COUNT] = {
    "BUSY",        "UNAVAILABLE",  "RATE_LIMITED", "IDEMPOTENCY_CONFLICT",
    "BAD_REQUEST", "UNAUTHORIZED", "FORBIDDEN",    "other"};

/* The index of s among the first n names, or n ("other"). */
static int name_index(const char *const *names, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return n;
}

const char *lg_reject_code_name(enum lg_reject_code c)
{
    return c < LG_RC_COUNT ? REJECT_NAMES[c] : "other";
}

enum lg_reject_code lg_reject_code_parse(const char *s)
{
    return (enum lg_reject_code)name_index(REJECT_NAMES, LG_RC_OTHER, s);
}

const char *lg_error_code_name(enum lg_error_code c)
{
    return c < LG_EC_COUNT ? ERROR_NAMES[c] : "other";
}

enum lg_error_code lg_error_code_parse(const char *s)
{
    return (enum lg_error_code)name_index(ERROR_NAMES, LG_EC_OTHER, s);
}

void lg_bench_report_init(struct lg_bench_report *r)
{
    memset(r, 0, sizeof(*r));
    for (int i = 0; i < 2; i++) {
        lg_hist_init(&r->accept[i]);
        lg_hist_init(&r->result[i]);
    }
    lg_hist_init(&r->result_after_reconnect);
    lg_hist_init(&r->admit_after_retry);
}

/* Close codes are few and sparse: a small table, with the last slot taking
 * whatever does not fit (code 0). */
void lg_bench_count_close(struct lg_bench_counts *c, int code)
{
    for (int i = 0; i < LG_BENCH_CLOSE_SLOTS; i++) {
        if (c->close_counts[i] && c->close_codes[i] == code) {
            c->close_counts[i]++;
            return;
        }
        if (!c->close_counts[i]) {
            c->close_codes[i] = code;
            c->close_counts[i] = 1;
            return;
        }
    }
    c->close_codes[LG_BENCH_CLOSE_SLOTS - 1] = 0;
    c->close_counts[LG_BENCH_CLOSE_SLOTS - 1]++;
}

static void merge_counts(struct lg_bench_counts *d, const struct lg_bench_counts *s)
{
    d->submitted += s->submitted;
    d->retries += s->retries;
    d->resubmits_after_close += s->resubmits_after_close;
    d->admitted_after_retry += s->admitted_after_retry;
    d->admitted_after_retry_high += s->admitted_after_retry_high;
    d->refused_gave_up += s->refused_gave_up;
    d->refused_waiting += s->refused_waiting;
    d->accepted += s->accepted;
    d->accepted_high += s->accepted_high;
    d->duplicates_sent += s->duplicates_sent;
    d->duplicates_accepted += s->duplicates_accepted;
    d->invalid_sent += s->invalid_sent;
    d->invalid_rejected += s->invalid_rejected;
    d->confirmed += s->confirmed;
    d->rejected += s->rejected;
    for (int i = 0; i < LG_RC_COUNT; i++)
        d->rejected_by_code[i] += s->rejected_by_code[i];
    for (int i = 0; i < LG_EC_COUNT; i++)
        d->errors_by_code[i] += s->errors_by_code[i];
    d->gmv_fen += s->gmv_fen;
    d->conn_attempts += s->conn_attempts;
    d->conn_failed += s->conn_failed;
    d->conn_closed_by_server += s->conn_closed_by_server;
    d->reconnects += s->reconnects;
    for (int i = 0; i < LG_BENCH_CLOSE_SLOTS; i++)
        for (uint64_t k = 0; k < s->close_counts[i]; k++)
            lg_bench_count_close(d, s->close_codes[i]);
}

void lg_bench_report_merge(struct lg_bench_report *d, const struct lg_bench_report *s)
{
    merge_counts(&d->c, &s->c);
    d->a.lost += s->a.lost;
    d->a.doubled += s->a.doubled;
    d->a.after_reconnect += s->a.after_reconnect;
    d->a.recovered_by_query += s->a.recovered_by_query;
    d->a.push_missing += s->a.push_missing;
    d->a.late += s->a.late;
    d->a.dup_wrong += s->a.dup_wrong;
    d->a.invalid_wrong += s->a.invalid_wrong;
    d->a.valid_refused += s->a.valid_refused;
    d->a.priority_wrong += s->a.priority_wrong;
    d->a.unanswered += s->a.unanswered;
    d->a.out_of_order += s->a.out_of_order;
    d->a.refused_but_queued += s->a.refused_but_queued;
    d->a.unavailable_but_queued += s->a.unavailable_but_queued;
    d->a.unsent += s->a.unsent;
    d->a.refusal_no_retry_after += s->a.refusal_no_retry_after;
    d->a.refusals_retryable += s->a.refusals_retryable;
    d->a.refused_only_queued += s->a.refused_only_queued;
    d->a.refused_only_checked += s->a.refused_only_checked;
    for (int i = 0; i < 2; i++) {
        lg_hist_merge(&d->accept[i], &s->accept[i]);
        lg_hist_merge(&d->result[i], &s->result[i]);
    }
    lg_hist_merge(&d->result_after_reconnect, &s->result_after_reconnect);
    lg_hist_merge(&d->admit_after_retry, &s->admit_after_retry);
    for (int i = 0; i < LG_BENCH_MAX_SKUS; i++)
        d->sku_confirmed_qty[i] += s->sku_confirmed_qty[i];
    d->cpu_us += s->cpu_us;
    if (s->busy_ratio_max > d->busy_ratio_max)
        d->busy_ratio_max = s->busy_ratio_max;
    d->conns_max_up += s->conns_max_up;
    if (s->first_send_us && (!d->first_send_us || s->first_send_us < d->first_send_us))
        d->first_send_us = s->first_send_us;
    if (s->last_send_us > d->last_send_us)
        d->last_send_us = s->last_send_us;
    if (s->last_final_us > d->last_final_us)
        d->last_final_us = s->last_final_us;
}

__attribute__((format(printf, 4, 5))) static void add_line(struct lg_bench_audit *a, bool ok,
                                                           const char *what, const char *fmt, ...)
{
    if (a->n == LG_AUDIT_MAX_LINES)
        return;
    struct lg_bench_audit_line *l = &a->line[a->n++];
    snprintf(l->what, sizeof(l->what), "%s", what);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->detail, sizeof(l->detail), fmt, ap);
    va_end(ap);
    l->ok = ok;
    if (!ok)
        a->ok = false;
}

static void audit_stock(const struct lg_bench_report *r, const struct lg_bench_stock_check *s,
                        struct lg_bench_audit *out)
{
    unsigned long long oversold = 0, worst = 0, mismatched = 0;
    for (int i = 0; i < s->nskus; i++) {
        unsigned long long q = r->sku_confirmed_qty[i];
        if (q > (unsigned long long)s->initial[i]) {
            oversold++;
            if (q - (unsigned long long)s->initial[i] > worst)
                worst = q - (unsigned long long)s->initial[i];
        }
        if (s->done && s->left[i] != s->initial[i] - (long long)q)
            mismatched++;
    }
    add_line(out, oversold == 0, "confirmed qty per SKU within its stock",
             "%llu SKUs oversold, worst by %llu", oversold, worst);
    if (s->done)
        add_line(out, mismatched == 0, "stock left (GET skus) = stock - confirmed qty",
                 "%llu SKUs differ", mismatched);
    else
        add_line(out, false, "stock left (GET skus) = stock - confirmed qty", "GET skus failed");
}

void lg_bench_audit_run(const struct lg_bench_report *r, const struct lg_bench_stock_check *stock,
                        struct lg_bench_audit *out)
{
    memset(out, 0, sizeof(*out));
    out->ok = true;
    const struct lg_bench_audit_counts *a = &r->a;
    add_line(out, a->lost == 0, "every accepted order got a final result",
             "%llu lost of %llu accepted", (unsigned long long)a->lost,
             (unsigned long long)r->c.accepted);
    add_line(out, a->doubled == 0, "no order got two results", "%llu doubled",
             (unsigned long long)a->doubled);
    add_line(out, a->push_missing == 0, "results pushed to connections that stayed open",
             "%llu found only by order.query", (unsigned long long)a->push_missing);
    add_line(out, a->dup_wrong == 0, "every duplicate got the first order's order_id",
             "%llu wrong of %llu resends", (unsigned long long)a->dup_wrong,
             (unsigned long long)r->c.duplicates_sent);
    if (stock)
        audit_stock(r, stock, out);
    add_line(out, a->late == 0, "pushed results within 10 s of acceptance", "%llu later than 10 s",
             (unsigned long long)a->late);
    add_line(out, a->invalid_wrong == 0 && a->valid_refused == 0,
             "broken orders refused naming the field, valid ones not",
             "%llu broken orders misjudged, %llu valid ones refused",
             (unsigned long long)a->invalid_wrong, (unsigned long long)a->valid_refused);
    add_line(out, a->priority_wrong == 0, "priority as the order's amount and tier demand",
             "%llu wrong", (unsigned long long)a->priority_wrong);
    add_line(out, a->out_of_order == 0, "order.accepted before the order's result",
             "%llu results came first", (unsigned long long)a->out_of_order);
    add_line(out, a->refused_but_queued == 0, "refused submits left nothing queued",
             "%llu refused yet decided; %llu refused UNAVAILABLE yet decided (allowed)",
             (unsigned long long)a->refused_but_queued,
             (unsigned long long)a->unavailable_but_queued);
    add_line(
        out, a->refusal_no_retry_after == 0, "every BUSY / RATE_LIMITED carried retry_after_ms",
        "%llu of %llu without a valid integer retry_after_ms",
        (unsigned long long)a->refusal_no_retry_after, (unsigned long long)a->refusals_retryable);
    uint64_t refused_only = r->c.refused_gave_up + r->c.refused_waiting;
    add_line(out, a->refused_only_queued == 0 && a->refused_only_checked == refused_only,
             "orders refused and never accepted left nothing queued",
             "%llu of %llu known to order.query (%llu answered in time; %llu gave up after %d "
             "retries, %llu still waiting at the end)",
             (unsigned long long)a->refused_only_queued, (unsigned long long)refused_only,
             (unsigned long long)a->refused_only_checked, (unsigned long long)r->c.refused_gave_up,
             LG_BENCH_RETRY_MAX, (unsigned long long)r->c.refused_waiting);
    add_line(out, a->unanswered == 0 && a->unsent == 0, "every submit answered",
             "%llu unanswered of %llu sent (%llu retries, %llu resent after their connection "
             "closed); %llu never sent",
             (unsigned long long)a->unanswered, (unsigned long long)r->c.submitted,
             (unsigned long long)r->c.retries, (unsigned long long)r->c.resubmits_after_close,
             (unsigned long long)a->unsent);
}
