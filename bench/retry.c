/* retry.c - retry_after_ms, when a refused order is resubmitted, and the
 * heap of resubmits waiting for their time. See retry.h. */
#include <stdlib.h>
#include <string.h>

#include "retry.h"

/* A JSON integer: an optional minus, then digits without a leading zero
 * (unless it is the only one); no fraction, no exponent. */
static bool parse_json_int(const char *p, size_t n, int64_t max, int64_t *out)
{
    size_t i = 0;
    bool neg = n > 0 && p[0] == '-';
    if (neg)
        i++;
    if (i == n || (p[i] == '0' && n - i > 1))
        return false;
    int64_t v = 0;
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (p[i] - '0');
        if (v > max)
            return false; /* also keeps v from overflowing */
    }
    *out = neg ? -v : v;
    return true;
}

int lg_bench_retry_after(const struct lg_scan *msg, int64_t *ms)
{
    const struct lg_scan_member *m = lg_scan_get(msg, "retry_after_ms");
    int64_t v;
    if (!m || m->kind != LG_SCAN_NUMBER ||
        !parse_json_int(m->val, m->val_len, LG_BENCH_RETRY_AFTER_MAX_MS, &v) || v < 1)
        return -1;
    *ms = v;
    return 0;
}

enum lg_retry_verdict lg_bench_retry_plan(int64_t now_us, int64_t after_ms, int done,
                                          int64_t last_us, int64_t *due_us)
{
    if (done >= LG_BENCH_RETRY_MAX)
        return LG_RETRY_TOO_MANY;
    int64_t due = now_us + after_ms * 1000;
    if (due > last_us)
        return LG_RETRY_TOO_LATE;
    *due_us = due;
    return LG_RETRY_AT;
}

static void swap(struct lg_retry_entry *a, struct lg_retry_entry *b)
{
    struct lg_retry_entry t = *a;
    *a = *b;
    *b = t;
}

int lg_retry_push(struct lg_retry_heap *h, int64_t due_us, int sub)
{
    if (h->n == h->cap) {
        size_t ncap = h->cap ? h->cap * 2 : 256;
        struct lg_retry_entry *n = realloc(h->e, ncap * sizeof(*n));
        if (!n)
            return -1;
        h->e = n;
        h->cap = ncap;
    }
    size_t i = h->n++;
    h->e[i] = (struct lg_retry_entry){due_us, sub};
    while (i > 0 && h->e[(i - 1) / 2].due_us > h->e[i].due_us) {
        swap(&h->e[(i - 1) / 2], &h->e[i]);
        i = (i - 1) / 2;
    }
    return 0;
}

bool lg_retry_pop_due(struct lg_retry_heap *h, int64_t now_us, int *sub)
{
    if (!h->n || h->e[0].due_us > now_us)
        return false;
    *sub = h->e[0].sub;
    h->e[0] = h->e[--h->n];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && h->e[l].due_us < h->e[m].due_us)
            m = l;
        if (r < h->n && h->e[r].due_us < h->e[m].due_us)
            m = r;
        if (m == i)
            break;
        swap(&h->e[i], &h->e[m]);
        i = m;
    }
    return true;
}

void lg_retry_free(struct lg_retry_heap *h)
{
    free(h->e);
    memset(h, 0, sizeof(*h));
}

bool lg_bench_drain_over(int64_t now_us, int64_t drain_end_us, int64_t last_accept_us)
{
    return now_us >= drain_end_us &&
           now_us >= last_accept_us + LG_BENCH_SLA_US + LG_BENCH_ANSWER_GRACE_US;
}
