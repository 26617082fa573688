/* report.h - what the bench measures and how it judges a run. Workers fill
 * a struct lg_bench_report and send it, with one struct lg_bench_second a
 * second, to the parent process over a pipe (plain structs: parent and
 * workers are the same binary). The parent merges them, runs the audit and
 * writes the summary, the JSON report and the CSV timeline. The audit is a
 * pure function of the merged report so the unit tests can make it fail. */
#ifndef LG_BENCH_REPORT_H
#define LG_BENCH_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "livegate/histogram.h"
#include "options.h"

/* Final rejection codes of the contract, then "other". */
enum lg_reject_code {
    LG_RC_UNKNOWN_SKU = 0,
    LG_RC_NOT_ON_SALE,
    LG_RC_PRICE_CHANGED,
    LG_RC_OUT_OF_STOCK,
    LG_RC_LIMIT_EXCEEDED,
    LG_RC_COUPON_INVALID,
    LG_RC_PAYMENT_METHOD_NOT_ALLOWED,
    LG_RC_ROOM_CLOSED,
    LG_RC_INVALID_FIELD,
    LG_RC_EXPIRED,
    LG_RC_OTHER,
    LG_RC_COUNT
};
/* Refusals a submit can get as an error frame, then "other". */
enum lg_error_code {
    LG_EC_BUSY = 0,
    LG_EC_UNAVAILABLE,
    LG_EC_RATE_LIMITED,
    LG_EC_IDEMPOTENCY_CONFLICT,
    LG_EC_BAD_REQUEST,
    LG_EC_UNAUTHORIZED,
    LG_EC_FORBIDDEN,
    LG_EC_OTHER,
    LG_EC_COUNT
};
const char *lg_reject_code_name(enum lg_reject_code c);
enum lg_reject_code lg_reject_code_parse(const char *s);
const char *lg_error_code_name(enum lg_error_code c);
enum lg_error_code lg_error_code_parse(const char *s);

#define LG_BENCH_CLOSE_SLOTS 16

struct lg_bench_counts {
    uint64_t submitted; /* submit frames sent, resends included, retries not */
    /* Resubmits of the same client_order_id that are no new order of the
     * mix: after a BUSY or RATE_LIMITED refusal (once its retry_after_ms
     * passed), and after the connection closed before any answer came. */
    uint64_t retries;
    uint64_t resubmits_after_close;
    uint64_t admitted_after_retry; /* orders accepted after at least one retry */
    /* Orders refused BUSY or RATE_LIMITED and never accepted: given up
     * after LG_BENCH_RETRY_MAX retries, or still waiting when the run ended
     * (their wait ran past the drain window, or their last retry was being
     * answered). */
    uint64_t refused_gave_up;
    uint64_t refused_waiting;
    uint64_t accepted; /* order.accepted with duplicate:false */
    uint64_t accepted_high;
    uint64_t admitted_after_retry_high; /* of admitted_after_retry, high-value */
    uint64_t duplicates_sent;
    uint64_t duplicates_accepted; /* order.accepted with duplicate:true */
    uint64_t invalid_sent;
    uint64_t invalid_rejected; /* INVALID_FIELD naming the broken field */
    uint64_t confirmed;
    uint64_t rejected; /* final rejections */
    uint64_t rejected_by_code[LG_RC_COUNT];
    uint64_t errors_by_code[LG_EC_COUNT];
    uint64_t gmv_fen; /* amount of confirmed orders */
    uint64_t conn_attempts;
    uint64_t conn_failed; /* connect or handshake failed */
    uint64_t conn_closed_by_server;
    uint64_t reconnects;
    int close_codes[LG_BENCH_CLOSE_SLOTS];
    uint64_t close_counts[LG_BENCH_CLOSE_SLOTS];
};

struct lg_bench_audit_counts {
    uint64_t lost;    /* accepted, no final result by the end */
    uint64_t doubled; /* a result pushed twice on one connection, or two differing results */
    /* Orders whose connection closed (a resend on a new connection) before
     * their result came: the result reaches the bench after the reconnect,
     * as a push (the new connection is on the accepting gateway process, or
     * the resend made its gateway a reply target), with a duplicate's reply,
     * or through order.query. Their latency is when the bench learned the
     * result, an upper bound, kept apart from the pushes. */
    uint64_t after_reconnect;
    uint64_t recovered_by_query; /* of those, learned by order.query */
    uint64_t push_missing;       /* found by order.query, its connection stayed open */
    uint64_t late;               /* pushed result more than 10 s after acceptance */
    uint64_t dup_wrong;          /* a resend that got another order_id or a new order */
    uint64_t invalid_wrong;      /* a broken order accepted, or refused naming another field */
    uint64_t valid_refused;      /* a valid order refused INVALID_FIELD */
    uint64_t priority_wrong;     /* priority other than the mix asked for */
    uint64_t unanswered;         /* a submit that got no reply at all on an open connection */
    uint64_t unsent;             /* a planned submit never written: no connection came up */
    uint64_t out_of_order;       /* a final result before the order's order.accepted */
    uint64_t refused_but_queued; /* a final result for a submit refused BUSY, RATE_LIMITED, ... */
    /* ... refused UNAVAILABLE: documented (a Redis call that timed out yet
     * ran), reported but not failed; the stock cross-check then differs */
    uint64_t unavailable_but_queued;
    uint64_t refusal_no_retry_after; /* BUSY or RATE_LIMITED without a valid retry_after_ms */
    uint64_t refusals_retryable;     /* BUSY and RATE_LIMITED refusals, all of them */
    /* Orders refused and never accepted that order.query found at the end
     * (any status but unknown): the refusal queued them after all. */
    uint64_t refused_only_queued;
    uint64_t refused_only_checked; /* refused-only orders order.query answered for */
};

struct lg_bench_report {
    struct lg_bench_counts c;
    struct lg_bench_audit_counts a;
    struct lg_hist accept[2]; /* [0] normal, [1] high; microseconds from intended send */
    struct lg_hist result[2]; /* pushed to the submitting connection, still open */
    struct lg_hist result_after_reconnect; /* upper bounds, see after_reconnect */
    struct lg_hist admit_after_retry; /* first intended send to order.accepted, retried orders */
    uint64_t sku_confirmed_qty[LG_BENCH_MAX_SKUS]; /* room * (skus + 1) + sku */
    uint64_t cpu_us;                               /* user + system */
    double busy_ratio_max; /* the highest one-second CPU share of a worker */
    uint64_t conns_max_up;
    /* Monotonic microseconds, one clock for every worker: the first and the
     * last send of a new order (retries and resends after a close are no
     * new orders) and the last final result; 0 for none. Throughput is
     * taken over these spans, not over whole seconds of the timeline. */
    int64_t first_send_us, last_send_us, last_final_us;
};

struct lg_bench_second {
    int worker;
    int second; /* since the run started */
    uint64_t conns_up;
    uint64_t submitted, accepted, results, errors;
    uint64_t cpu_us;
    struct lg_hist accept;
    struct lg_hist result;
};

void lg_bench_report_init(struct lg_bench_report *r);
void lg_bench_report_merge(struct lg_bench_report *dst, const struct lg_bench_report *src);
void lg_bench_count_close(struct lg_bench_counts *c, int code);

/* What the parent learns after the run from GET skus. */
struct lg_bench_stock_check {
    bool done; /* false when GET skus failed */
    int nskus;
    long long initial[LG_BENCH_MAX_SKUS];
    long long left[LG_BENCH_MAX_SKUS];
};

#define LG_AUDIT_MAX_LINES 16
struct lg_bench_audit_line {
    char what[96];
    char detail[160];
    bool ok;
};
struct lg_bench_audit {
    struct lg_bench_audit_line line[LG_AUDIT_MAX_LINES];
    int n;
    bool ok;
};

/* Judges a merged report. stock may be NULL (no cross-check). */
void lg_bench_audit_run(const struct lg_bench_report *r, const struct lg_bench_stock_check *stock,
                        struct lg_bench_audit *out);

#endif
