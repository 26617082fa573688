/* slo.c - parses --slo targets and judges a merged report against them.
 * Each target has one direction: latencies and loss counts are ceilings
 * ("=" or "<="), rates and the confirmed count floors (">="); writing the
 * other direction is an error rather than a guess, as is a latency without
 * its unit, so a spec means what it reads as. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "slo.h"

/* ---- the targets --------------------------------------------------------- */

enum count_metric {
    CM_LOST,
    CM_DOUBLED,
    CM_UNANSWERED,
    CM_UNSENT,
    CM_LATE,
    CM_ERRORS,
    CM_BUSY,
    CM_RATE_LIMITED,
    CM_UNAVAILABLE,
    CM_REFUSED,
    CM_CONN_FAILED,
    CM_CONFIRMED,
    CM_COUNT
};

struct named {
    const char *name;
    bool at_least;
};

static const struct named COUNTS[CM_COUNT] = {
    [CM_LOST] = {"lost", false},
    [CM_DOUBLED] = {"doubled", false},
    [CM_UNANSWERED] = {"unanswered", false},
    [CM_UNSENT] = {"unsent", false},
    [CM_LATE] = {"late", false},
    [CM_ERRORS] = {"errors", false},
    [CM_BUSY] = {"busy", false},
    [CM_RATE_LIMITED] = {"rate_limited", false},
    [CM_UNAVAILABLE] = {"unavailable", false},
    [CM_REFUSED] = {"refused", false},
    [CM_CONN_FAILED] = {"conn_failed", false},
    [CM_CONFIRMED] = {"confirmed", true},
};

enum rate_metric { RM_CONFIRMED, RM_CONFIRMED_SENDING, RM_COUNT };

static const struct named RATES[RM_COUNT] = {
    [RM_CONFIRMED] = {"confirmed_rate", true},
    [RM_CONFIRMED_SENDING] = {"confirmed_rate_sending", true},
};

const char LG_SLO_HELP[] =
    "                         latencies (ceilings, = or <=, unit us, ms or s):\n"
    "                           accept_P, result_P, accept_P_high, result_P_normal...\n"
    "                           with P one of p50 p90 p99 p99.9 max\n"
    "                         counts (ceilings, = or <=, whole): lost doubled\n"
    "                           unanswered unsent late errors busy rate_limited\n"
    "                           unavailable refused (refused, never accepted)\n"
    "                           conn_failed\n"
    "                         floors, written with >=: confirmed (a count),\n"
    "                           confirmed_rate (confirmed/s, first send to last\n"
    "                           result), confirmed_rate_sending (confirmed/s over\n"
    "                           the sending window); an optional /s\n";

static const struct {
    const char *name;
    double pct;
} PCTS[] = {{"p50", 50}, {"p90", 90}, {"p99", 99}, {"p99.9", 99.9}, {"p999", 99.9}, {"max", 100}};

static int find_named(const struct named *t, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(t[i].name, name) == 0)
            return i;
    return -1;
}

/* accept_p99, result_max_high, ... Returns 0 when name is a latency. */
static int parse_latency_name(const char *name, struct lg_slo_target *t)
{
    const char *p;
    if (strncmp(name, "accept_", 7) == 0)
        t->result = false;
    else if (strncmp(name, "result_", 7) == 0)
        t->result = true;
    else
        return -1;
    p = name + 7;
    for (size_t i = 0; i < sizeof(PCTS) / sizeof(PCTS[0]); i++) {
        size_t len = strlen(PCTS[i].name);
        if (strncmp(p, PCTS[i].name, len) != 0)
            continue;
        const char *rest = p + len;
        if (*rest && strcmp(rest, "_high") && strcmp(rest, "_normal"))
            continue;
        t->pct = PCTS[i].pct;
        t->prio = !*rest ? -1 : strcmp(rest, "_high") == 0 ? 1 : 0;
        return 0;
    }
    return -1;
}

/* ---- the bounds ---------------------------------------------------------- */

static int parse_number(const char *s, double *v, const char **end)
{
    if (!(isdigit((unsigned char)*s) || (*s == '.' && isdigit((unsigned char)s[1]))))
        return -1;
    char *e;
    *v = strtod(s, &e);
    if (!isfinite(*v) || *v < 0)
        return -1;
    *end = e;
    return 0;
}

static int parse_latency_bound(const char *s, double *us)
{
    double v;
    const char *unit;
    if (parse_number(s, &v, &unit))
        return -1;
    double scale = strcmp(unit, "us") == 0   ? 1
                   : strcmp(unit, "ms") == 0 ? 1e3
                   : strcmp(unit, "s") == 0  ? 1e6
                                             : -1;
    if (scale < 0 || v * scale > 86400e6)
        return -1;
    *us = v * scale;
    return 0;
}

static int parse_count_bound(const char *s, double *n)
{
    if (!*s || strlen(s) > 15)
        return -1;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p))
            return -1;
    *n = strtod(s, NULL);
    return 0;
}

static int parse_rate_bound(const char *s, double *per_s)
{
    const char *rest;
    if (parse_number(s, per_s, &rest))
        return -1;
    return *rest == '\0' || strcmp(rest, "/s") == 0 ? 0 : -1;
}

/* ---- one target ---------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errsz, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
    return -1;
}

/* Splits "name<op>bound"; op is "=", "<=" or ">=". */
static int split_item(const char *item, char *name, size_t nsz, char *op, char *bound, size_t bsz,
                      char *err, size_t errsz)
{
    size_t n = 0;
    while (item[n] && (isalnum((unsigned char)item[n]) || item[n] == '_' || item[n] == '.'))
        n++;
    const char *o = item + n;
    size_t olen = strncmp(o, "<=", 2) == 0 || strncmp(o, ">=", 2) == 0 ? 2 : *o == '=' ? 1 : 0;
    if (n == 0 || !olen)
        return fail(err, errsz,
                    "--slo: '%s' is no target: write NAME=VALUE, NAME<=VALUE or "
                    "NAME>=VALUE",
                    item);
    if (n >= nsz || strlen(o + olen) >= bsz)
        return fail(err, errsz, "--slo: '%s' is too long", item);
    memcpy(name, item, n);
    name[n] = '\0';
    *op = olen == 1 ? '=' : o[0];
    snprintf(bound, bsz, "%s", o + olen);
    return 0;
}

static int direction_ok(const struct lg_slo_target *t, char op, const char *item, char *err,
                        size_t errsz)
{
    if (t->at_least && op != '>')
        return fail(err, errsz, "--slo: '%s': %s is a floor: write %s>=VALUE", item, t->name,
                    t->name);
    if (!t->at_least && op == '>')
        return fail(err, errsz, "--slo: '%s': %s is a ceiling: write %s=VALUE (or <=)", item,
                    t->name, t->name);
    return 0;
}

static int parse_item(const char *item, struct lg_slo_target *t, char *err, size_t errsz)
{
    char op = 0;
    memset(t, 0, sizeof(*t));
    if (split_item(item, t->name, sizeof(t->name), &op, t->bound, sizeof(t->bound), err, errsz))
        return -1;
    int i;
    if (parse_latency_name(t->name, t) == 0) {
        t->kind = LG_SLO_LATENCY;
        if (direction_ok(t, op, item, err, errsz))
            return -1;
        if (parse_latency_bound(t->bound, &t->limit))
            return fail(err, errsz,
                        "--slo: '%s': a latency is a number with a unit, us, ms or s, up to "
                        "a day (e.g. %s=5ms)",
                        item, t->name);
    } else if ((i = find_named(COUNTS, CM_COUNT, t->name)) >= 0) {
        t->kind = LG_SLO_COUNT;
        t->metric = i;
        t->at_least = COUNTS[i].at_least;
        if (direction_ok(t, op, item, err, errsz))
            return -1;
        if (parse_count_bound(t->bound, &t->limit))
            return fail(err, errsz, "--slo: '%s': %s is a count: a whole number, no unit", item,
                        t->name);
    } else if ((i = find_named(RATES, RM_COUNT, t->name)) >= 0) {
        t->kind = LG_SLO_RATE;
        t->metric = i;
        t->at_least = RATES[i].at_least;
        if (direction_ok(t, op, item, err, errsz))
            return -1;
        if (parse_rate_bound(t->bound, &t->limit))
            return fail(err, errsz, "--slo: '%s': %s is confirmed orders per second (e.g. %s>=500)",
                        item, t->name, t->name);
    } else {
        return fail(err, errsz,
                    "--slo: unknown target '%s' (latencies: accept_ or result_, then p50, p90, "
                    "p99, p99.9 or max, then optionally _high or _normal; the counts and "
                    "rates: see --help)",
                    t->name);
    }
    return 0;
}

int lg_slo_parse(struct lg_slo_set *s, const char *spec, char *err, size_t errsz)
{
    struct lg_slo_set next = *s;
    const char *p = spec;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char item[128];
        if (len == 0)
            return fail(err, errsz,
                        "--slo: an empty target in '%s' (nothing, or a comma too "
                        "many)",
                        spec);
        if (len >= sizeof(item))
            return fail(err, errsz, "--slo: a target too long in '%s'", spec);
        memcpy(item, p, len);
        item[len] = '\0';
        if (next.n == LG_SLO_MAX) {
            snprintf(err, errsz, "--slo: more than %d targets", LG_SLO_MAX);
            return -1;
        }
        struct lg_slo_target *t = &next.t[next.n];
        if (parse_item(item, t, err, errsz))
            return -1;
        for (int k = 0; k < next.n; k++)
            if (strcmp(next.t[k].name, t->name) == 0)
                return fail(err, errsz, "--slo: %s is given twice", t->name);
        next.n++;
        if (!comma)
            break;
        p = comma + 1;
    }
    *s = next;
    return 0;
}

/* ---- the verdict --------------------------------------------------------- */

static uint64_t count_of(const struct lg_bench_report *r, int metric)
{
    uint64_t errors = 0;
    switch ((enum count_metric)metric) {
    case CM_LOST:
        return r->a.lost;
    case CM_DOUBLED:
        return r->a.doubled;
    case CM_UNANSWERED:
        return r->a.unanswered;
    case CM_UNSENT:
        return r->a.unsent;
    case CM_LATE:
        return r->a.late;
    case CM_ERRORS:
        for (int i = 0; i < LG_EC_COUNT; i++)
            errors += r->c.errors_by_code[i];
        return errors;
    case CM_BUSY:
        return r->c.errors_by_code[LG_EC_BUSY];
    case CM_RATE_LIMITED:
        return r->c.errors_by_code[LG_EC_RATE_LIMITED];
    case CM_UNAVAILABLE:
        return r->c.errors_by_code[LG_EC_UNAVAILABLE];
    case CM_REFUSED:
        return r->c.refused_gave_up + r->c.refused_waiting;
    case CM_CONN_FAILED:
        return r->c.conn_failed;
    case CM_CONFIRMED:
        return r->c.confirmed;
    case CM_COUNT:
        break;
    }
    return 0;
}

static void judge_latency(const struct lg_slo_target *t, const struct lg_bench_report *r,
                          struct lg_slo_result *out)
{
    const struct lg_hist *pair = t->result ? r->result : r->accept;
    static struct lg_hist both; /* 18 KiB: kept off the stack */
    const struct lg_hist *h = &pair[t->prio > 0 ? 1 : 0];
    if (t->prio < 0) {
        lg_hist_init(&both);
        lg_hist_merge(&both, &pair[0]);
        lg_hist_merge(&both, &pair[1]);
        h = &both;
    }
    out->samples = h->total;
    out->measured = h->total > 0;
    out->value = (double)lg_hist_percentile(h, t->pct);
}

void lg_slo_judge(const struct lg_slo_set *s, const struct lg_bench_report *r,
                  const struct lg_slo_rates *rates, struct lg_slo_verdict *out)
{
    memset(out, 0, sizeof(*out));
    out->ok = true;
    out->n = s->n;
    for (int i = 0; i < s->n; i++) {
        const struct lg_slo_target *t = &s->t[i];
        struct lg_slo_result *res = &out->r[i];
        if (t->kind == LG_SLO_LATENCY) {
            judge_latency(t, r, res);
        } else if (t->kind == LG_SLO_COUNT) {
            res->value = (double)count_of(r, t->metric);
            res->measured = true;
        } else {
            res->value =
                t->metric == RM_CONFIRMED ? rates->confirmed_per_s : rates->confirmed_per_s_sending;
            res->measured = res->value >= 0;
        }
        res->ok = res->measured && (t->at_least ? res->value >= t->limit : res->value <= t->limit);
        if (!res->ok)
            out->ok = false;
    }
}

static void format_latency(double us, char *buf, size_t n)
{
    if (us < 1000)
        snprintf(buf, n, "%.0f us", us);
    else if (us < 1e6)
        snprintf(buf, n, "%.2f ms", us / 1e3);
    else
        snprintf(buf, n, "%.3f s", us / 1e6);
}

void lg_slo_describe(const struct lg_slo_target *t, const struct lg_slo_result *r, char *buf,
                     size_t n)
{
    char value[48];
    const char *op = t->at_least ? ">=" : "<=";
    if (!r->measured) {
        snprintf(buf, n, "%s %s %s: %s", t->name, op, t->bound,
                 t->kind == LG_SLO_LATENCY ? "no sample to judge (none of these orders measured)"
                                           : "unknown (a sending window of no length)");
        return;
    }
    if (t->kind == LG_SLO_LATENCY) {
        format_latency(r->value, value, sizeof(value));
        snprintf(buf, n, "%s %s %s: %s (n=%llu)", t->name, op, t->bound, value,
                 (unsigned long long)r->samples);
    } else if (t->kind == LG_SLO_COUNT) {
        snprintf(buf, n, "%s %s %s: %.0f", t->name, op, t->bound, r->value);
    } else {
        snprintf(buf, n, "%s %s %s: %.1f/s", t->name, op, t->bound, r->value);
    }
}
