/* options.c - parses livegate-bench's options into struct lg_bench_opts and
 * prints --help. Every number is range-checked here so the rest of the bench
 * can trust its options. */
#include <getopt.h>
#include <stdint.h>
#include <sys/random.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "options.h"

static const char HELP[] =
    "usage: livegate-bench [options]\n"
    "\n"
    "Drives a livegate gateway like a crowd of viewers and audits the outcome.\n"
    "\n"
    "Target\n"
    "  --url URL              gateway WebSocket URL, ws://host:port[/v1/ws]\n"
    "                         (default ws://127.0.0.1:8080/v1/ws)\n"
    "  --secret S             token secret (default: $LIVEGATE_JWT_SECRET)\n"
    "  --no-setup             do not create rooms, SKUs and coupons (they exist)\n"
    "  --run-id ID            tag of this run's rooms, users and orders\n"
    "                         (default: random)\n"
    "  --cleanup              after the run, close the rooms it made and delete\n"
    "                         them (DELETE /v1/rooms/{room}?unpaid=cancel), so\n"
    "                         they no longer add to the back office's \"*\"\n"
    "                         figures; their orders stay readable until their\n"
    "                         TTL. Not with --no-setup. The scripts in\n"
    "                         scripts/bench/ pass it.\n"
    "\n"
    "Shape\n"
    "  --shape steady|burst|max  load shape (default steady)\n"
    "    steady: open loop, --rate orders/s for --duration s over --conns\n"
    "    burst:  connect --conns viewers over --ramp s, then each submits once\n"
    "            within --window s; --bursts times, --burst-gap s apart\n"
    "    max:    closed loop, --inflight orders in flight per connection\n"
    "  --conns N              viewer connections (default 100)\n"
    "  --procs N              worker processes sharing the connections (default 1)\n"
    "  --rate R               steady: orders/s in total (default 1000)\n"
    "  --duration S           steady, max: seconds of sending (default 10)\n"
    "  --ramp S               seconds over which connections open (default 1)\n"
    "  --window S             burst: submit window in seconds (default 1)\n"
    "  --bursts N             burst: number of bursts (default 1)\n"
    "  --burst-gap S          burst: seconds between bursts (default 5)\n"
    "  --inflight K           max: orders in flight per connection (default 4)\n"
    "  --inflight-until result|accept\n"
    "                         max: an order stops being in flight at its final\n"
    "                         result (end to end) or at order.accepted (intake\n"
    "                         only: the queue can grow past what the validators\n"
    "                         decide in 10 s) (default result)\n"
    "  --drain S              seconds to wait for final results after sending, and at\n"
    "                         least 11 s after the last acceptance\n"
    "                         (default 15); a submit refused BUSY or RATE_LIMITED\n"
    "                         is resent (same client_order_id) after its\n"
    "                         retry_after_ms, up to 64 times, until then\n"
    "\n"
    "Traffic mix (shares from 0 to 1)\n"
    "  --dup-share F          submissions resent with the same client_order_id\n"
    "                         (default 0.05)\n"
    "  --reconnect-share F    of the resends, the share sent on a new connection\n"
    "                         (default 0.3)\n"
    "  --high-share F         orders of the room's high-value SKU (default 0.1)\n"
    "  --vip-share F          viewers with tier vip (default 0.05)\n"
    "  --invalid-share F      orders that break one field rule (default 0.02)\n"
    "  --coupon-share F       orders with a coupon (default 0.1)\n"
    "\n"
    "Catalog (created through the HTTP API with an operator token)\n"
    "  --rooms N              rooms (default 1, at most 256)\n"
    "  --skus N               ordinary SKUs per room (default 4)\n"
    "  --stock N              stock of each SKU (default 1000000)\n"
    "  --limit-per-user N     per-user limit of each SKU (default 100)\n"
    "  --price FEN            price of the ordinary SKUs (default 9900)\n"
    "  --high-threshold FEN   the rooms' high_value_threshold (default 100000)\n"
    "\n"
    "Scale and measurement\n"
    "  --sources LIST         comma-separated source addresses to bind; by default\n"
    "                         127.0.0.2, 127.0.0.3, ... one per 10,000 connections\n"
    "                         when the target is loopback and --conns > 10000\n"
    "  --gateway-pid PID      a gateway process to read resident memory from;\n"
    "                         repeat for several (memory per idle connection);\n"
    "                         its CPU per confirmed order is reported too\n"
    "  --pid PID              another process of the system under test (Redis,\n"
    "                         a validator) whose CPU per confirmed order is\n"
    "                         reported; repeat for several (at most 64)\n"
    "  --seed N               random seed (default: from the clock)\n"
    "\n"
    "Verdict\n"
    "  --slo LIST             targets the run must meet, comma-separated, e.g.\n"
    "                         accept_p99=5ms,result_p99_high=1s,lost=0,\n"
    "                         confirmed_rate>=500; repeatable. Each gets a\n"
    "                         pass/fail line after the audit. A latency target\n"
    "                         with no sample fails. Targets:\n";
/* After the --slo target list (slo.c's, kept beside the table it lists). */
static const char HELP_END[] =
    "\n"
    "Output\n"
    "  --json FILE            the full report as JSON\n"
    "  --csv FILE             a per-second timeline\n"
    "  --help                 this text\n"
    "  --version              the version\n"
    "\n"
    "Exit status: 0 when every audit line and every --slo target passed;\n"
    "1 when an audit line failed (whatever the targets); 2 for bad options\n"
    "(a bad --slo included: nothing is sent), a failed set-up or a failed\n"
    "worker; 3 when the audit passed but an --slo target was missed; 4 when\n"
    "all passed but --cleanup failed.\n";

const char *lg_bench_shape_name(enum lg_bench_shape s)
{
    switch (s) {
    case LG_SHAPE_STEADY:
        return "steady";
    case LG_SHAPE_BURST:
        return "burst";
    case LG_SHAPE_MAX:
        return "max";
    }
    return "?";
}

static void set_defaults(struct lg_bench_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->shape = LG_SHAPE_STEADY;
    snprintf(o->host, sizeof(o->host), "127.0.0.1");
    o->port = 8080;
    o->conns = 100;
    o->procs = 1;
    o->rate = 1000;
    o->duration_s = 10;
    o->ramp_s = 1;
    o->window_s = 1;
    o->bursts = 1;
    o->burst_gap_s = 5;
    o->inflight = 4;
    o->drain_s = 15;
    o->dup_share = 0.05;
    o->reconnect_share = 0.3;
    o->high_share = 0.1;
    o->vip_share = 0.05;
    o->invalid_share = 0.02;
    o->coupon_share = 0.1;
    o->rooms = 1;
    o->skus = 4;
    o->stock = 1000000;
    o->limit_per_user = 100;
    o->price = 9900;
    o->high_threshold = 100000;
    /* From the kernel, not the clock and pid: two runs a second apart must
     * never share a run id (their orders would be taken for duplicates). */
    uint64_t rnd = 0;
    if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        rnd = (uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid() << 32;
    o->seed = (unsigned)rnd;
    o->run_tag = (uint32_t)(rnd >> 32);
    const char *secret = getenv("LIVEGATE_JWT_SECRET");
    if (secret)
        snprintf(o->secret, sizeof(o->secret), "%s", secret);
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

static int parse_ll(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_int(const char *s, long long lo, long long hi, int *out)
{
    long long v;
    if (parse_ll(s, lo, hi, &v))
        return -1;
    *out = (int)v;
    return 0;
}

/* ws://host:port[/v1/ws]; the bench always speaks to /v1/ws. */
static int parse_url(struct lg_bench_opts *o, const char *url)
{
    if (strncmp(url, "ws://", 5) != 0)
        return -1;
    const char *h = url + 5;
    const char *colon = strchr(h, ':');
    const char *slash = strchr(h, '/');
    size_t hl = colon ? (size_t)(colon - h) : slash ? (size_t)(slash - h) : strlen(h);
    if (hl == 0 || hl >= sizeof(o->host))
        return -1;
    memcpy(o->host, h, hl);
    o->host[hl] = '\0';
    o->port = 80;
    if (colon && (!slash || colon < slash)) {
        char port[8] = {0};
        size_t pl = slash ? (size_t)(slash - colon - 1) : strlen(colon + 1);
        if (pl == 0 || pl >= sizeof(port))
            return -1;
        memcpy(port, colon + 1, pl);
        if (parse_int(port, 1, 65535, &o->port))
            return -1;
    }
    if (slash && strcmp(slash, "/v1/ws") != 0 && strcmp(slash, "/") != 0)
        return -1;
    return 0;
}

static int parse_sources(struct lg_bench_opts *o, const char *list)
{
    char *copy = strdup(list);
    if (!copy)
        return -1;
    int rc = 0;
    char *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (o->nsources == LG_BENCH_MAX_SOURCES || !*t) {
            rc = -1;
            break;
        }
        o->sources[o->nsources++] = strdup(t);
    }
    free(copy);
    return o->nsources ? rc : -1;
}

static int valid_run_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 16)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
            return 0;
    return 1;
}

/* One source address per 10,000 connections (the gateway's default cap per
 * address), from 127.0.0.2 up, when the target is loopback. */
static void default_sources(struct lg_bench_opts *o)
{
    if (o->nsources || o->conns <= 10000 || strncmp(o->host, "127.", 4) != 0)
        return;
    int n = (o->conns + 9999) / 10000;
    for (int i = 0; i < n && i < LG_BENCH_MAX_SOURCES; i++) {
        char a[32];
        snprintf(a, sizeof(a), "127.0.0.%d", i + 2);
        o->sources[o->nsources++] = strdup(a);
    }
}

enum {
    OPT_URL = 256,
    OPT_SECRET,
    OPT_NO_SETUP,
    OPT_RUN_ID,
    OPT_SHAPE,
    OPT_CONNS,
    OPT_PROCS,
    OPT_RATE,
    OPT_DURATION,
    OPT_RAMP,
    OPT_WINDOW,
    OPT_BURSTS,
    OPT_BURST_GAP,
    OPT_INFLIGHT,
    OPT_INFLIGHT_UNTIL,
    OPT_DRAIN,
    OPT_DUP,
    OPT_RECONNECT,
    OPT_HIGH,
    OPT_VIP,
    OPT_INVALID,
    OPT_COUPON,
    OPT_ROOMS,
    OPT_SKUS,
    OPT_STOCK,
    OPT_LIMIT,
    OPT_PRICE,
    OPT_THRESHOLD,
    OPT_SOURCES,
    OPT_GW_PID,
    OPT_PID,
    OPT_SEED,
    OPT_JSON,
    OPT_CSV,
    OPT_SLO,
    OPT_CLEANUP,
    OPT_HELP
};

static const struct option LONG_OPTS[] = {
    {"url", required_argument, 0, OPT_URL},
    {"secret", required_argument, 0, OPT_SECRET},
    {"no-setup", no_argument, 0, OPT_NO_SETUP},
    {"run-id", required_argument, 0, OPT_RUN_ID},
    {"shape", required_argument, 0, OPT_SHAPE},
    {"conns", required_argument, 0, OPT_CONNS},
    {"procs", required_argument, 0, OPT_PROCS},
    {"rate", required_argument, 0, OPT_RATE},
    {"duration", required_argument, 0, OPT_DURATION},
    {"ramp", required_argument, 0, OPT_RAMP},
    {"window", required_argument, 0, OPT_WINDOW},
    {"bursts", required_argument, 0, OPT_BURSTS},
    {"burst-gap", required_argument, 0, OPT_BURST_GAP},
    {"inflight", required_argument, 0, OPT_INFLIGHT},
    {"inflight-until", required_argument, 0, OPT_INFLIGHT_UNTIL},
    {"drain", required_argument, 0, OPT_DRAIN},
    {"dup-share", required_argument, 0, OPT_DUP},
    {"reconnect-share", required_argument, 0, OPT_RECONNECT},
    {"high-share", required_argument, 0, OPT_HIGH},
    {"vip-share", required_argument, 0, OPT_VIP},
    {"invalid-share", required_argument, 0, OPT_INVALID},
    {"coupon-share", required_argument, 0, OPT_COUPON},
    {"rooms", required_argument, 0, OPT_ROOMS},
    {"skus", required_argument, 0, OPT_SKUS},
    {"stock", required_argument, 0, OPT_STOCK},
    {"limit-per-user", required_argument, 0, OPT_LIMIT},
    {"price", required_argument, 0, OPT_PRICE},
    {"high-threshold", required_argument, 0, OPT_THRESHOLD},
    {"sources", required_argument, 0, OPT_SOURCES},
    {"gateway-pid", required_argument, 0, OPT_GW_PID},
    {"pid", required_argument, 0, OPT_PID},
    {"seed", required_argument, 0, OPT_SEED},
    {"json", required_argument, 0, OPT_JSON},
    {"csv", required_argument, 0, OPT_CSV},
    {"slo", required_argument, 0, OPT_SLO},
    {"cleanup", no_argument, 0, OPT_CLEANUP},
    {"help", no_argument, 0, OPT_HELP},
    {"version", no_argument, 0, 'V'},
    {0, 0, 0, 0},
};

static int apply(struct lg_bench_opts *o, int opt, const char *v)
{
    long long ll;
    switch (opt) {
    case OPT_URL:
        return parse_url(o, v);
    case OPT_SECRET:
        if (!*v || strlen(v) >= sizeof(o->secret))
            return -1;
        snprintf(o->secret, sizeof(o->secret), "%s", v);
        return 0;
    case OPT_NO_SETUP:
        o->no_setup = true;
        return 0;
    case OPT_CLEANUP:
        o->cleanup = true;
        return 0;
    case OPT_RUN_ID:
        if (!valid_run_id(v))
            return -1;
        snprintf(o->run_id, sizeof(o->run_id), "%s", v);
        return 0;
    case OPT_SHAPE:
        if (strcmp(v, "steady") == 0)
            o->shape = LG_SHAPE_STEADY;
        else if (strcmp(v, "burst") == 0)
            o->shape = LG_SHAPE_BURST;
        else if (strcmp(v, "max") == 0)
            o->shape = LG_SHAPE_MAX;
        else
            return -1;
        return 0;
    case OPT_CONNS:
        return parse_int(v, 1, 1000000, &o->conns);
    case OPT_PROCS:
        return parse_int(v, 1, 64, &o->procs);
    case OPT_RATE:
        return parse_double(v, 0.1, 1e6, &o->rate);
    case OPT_DURATION:
        return parse_double(v, 0.1, 86400, &o->duration_s);
    case OPT_RAMP:
        return parse_double(v, 0, 3600, &o->ramp_s);
    case OPT_WINDOW:
        return parse_double(v, 0, 3600, &o->window_s);
    case OPT_BURSTS:
        return parse_int(v, 1, 1000, &o->bursts);
    case OPT_BURST_GAP:
        return parse_double(v, 0, 3600, &o->burst_gap_s);
    case OPT_INFLIGHT:
        return parse_int(v, 1, 1000, &o->inflight);
    case OPT_INFLIGHT_UNTIL:
        if (strcmp(v, "result") == 0 || strcmp(v, "accept") == 0) {
            o->inflight_until_accept = strcmp(v, "accept") == 0;
            return 0;
        }
        return -1;
    case OPT_DRAIN:
        return parse_double(v, 0, 3600, &o->drain_s);
    case OPT_DUP:
        return parse_double(v, 0, 1, &o->dup_share);
    case OPT_RECONNECT:
        return parse_double(v, 0, 1, &o->reconnect_share);
    case OPT_HIGH:
        return parse_double(v, 0, 1, &o->high_share);
    case OPT_VIP:
        return parse_double(v, 0, 1, &o->vip_share);
    case OPT_INVALID:
        return parse_double(v, 0, 1, &o->invalid_share);
    case OPT_COUPON:
        return parse_double(v, 0, 1, &o->coupon_share);
    case OPT_ROOMS:
        return parse_int(v, 1, LG_BENCH_MAX_ROOMS, &o->rooms);
    case OPT_SKUS:
        return parse_int(v, 1, 64, &o->skus);
    case OPT_STOCK:
        return parse_ll(v, 0, 1000000000LL, &o->stock);
    case OPT_LIMIT:
        return parse_int(v, 1, 1000000, &o->limit_per_user);
    case OPT_PRICE:
        return parse_ll(v, 1, 100000000LL, &o->price);
    case OPT_THRESHOLD:
        return parse_ll(v, 1, 1000000000000LL, &o->high_threshold);
    case OPT_SOURCES:
        return parse_sources(o, v);
    case OPT_GW_PID:
        if (o->ngateway_pids == LG_BENCH_MAX_PIDS || parse_ll(v, 1, 1 << 30, &ll))
            return -1;
        o->gateway_pids[o->ngateway_pids++] = (int)ll;
        return 0;
    case OPT_PID:
        if (o->npids == LG_BENCH_MAX_PIDS || parse_ll(v, 1, 1 << 30, &ll))
            return -1;
        o->pids[o->npids++] = (int)ll;
        return 0;
    case OPT_SEED:
        if (parse_ll(v, 0, 0xffffffffLL, &ll))
            return -1;
        o->seed = (unsigned)ll;
        return 0;
    case OPT_JSON:
        snprintf(o->json_path, sizeof(o->json_path), "%s", v);
        return 0;
    case OPT_CSV:
        snprintf(o->csv_path, sizeof(o->csv_path), "%s", v);
        return 0;
    }
    return -1;
}

static const char *opt_name(int opt)
{
    for (const struct option *p = LONG_OPTS; p->name; p++)
        if (p->val == opt)
            return p->name;
    return "?";
}

int lg_bench_opts_parse(struct lg_bench_opts *o, int argc, char **argv, char *err, size_t errsz)
{
    set_defaults(o);
    optind = 1;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "", LONG_OPTS, NULL)) != -1) {
        if (opt == OPT_HELP) {
            fputs(HELP, stdout);
            fputs(LG_SLO_HELP, stdout);
            fputs(HELP_END, stdout);
            return 1;
        }
        if (opt == 'V') {
            printf("livegate-bench %s\n", LIVEGATE_VERSION);
            return 1;
        }
        /* Its own message: which target is wrong, and why. */
        if (opt == OPT_SLO) {
            if (lg_slo_parse(&o->slo, optarg, err, errsz))
                return -1;
            continue;
        }
        if (opt == '?' || opt == ':') {
            snprintf(err, errsz, "unknown option or missing value: %s",
                     argv[optind - 1] ? argv[optind - 1] : "?");
            return -1;
        }
        if ((opt == OPT_PID && o->npids == LG_BENCH_MAX_PIDS) ||
            (opt == OPT_GW_PID && o->ngateway_pids == LG_BENCH_MAX_PIDS)) {
            snprintf(err, errsz, "--%s: at most %d of them", opt_name(opt), LG_BENCH_MAX_PIDS);
            return -1;
        }
        if (apply(o, opt, optarg)) {
            snprintf(err, errsz, "--%s: bad value '%s' (see --help)", opt_name(opt),
                     optarg ? optarg : "");
            return -1;
        }
    }
    if (optind < argc) {
        snprintf(err, errsz, "unexpected argument: %s", argv[optind]);
        return -1;
    }
    if (!o->secret[0]) {
        snprintf(err, errsz, "no token secret: give --secret or set LIVEGATE_JWT_SECRET");
        return -1;
    }
    if (o->procs > o->conns) {
        snprintf(err, errsz, "--procs (%d) is more than --conns (%d)", o->procs, o->conns);
        return -1;
    }
    if ((long long)o->rooms * (o->skus + 1) > LG_BENCH_MAX_SKUS) {
        snprintf(err, errsz, "--rooms x (--skus + 1) is over %d", LG_BENCH_MAX_SKUS);
        return -1;
    }
    if (o->price * 2 >= o->high_threshold) {
        snprintf(err, errsz,
                 "--price must be under half of --high-threshold, so ordinary orders stay normal");
        return -1;
    }
    if (o->cleanup && o->no_setup) {
        snprintf(err, errsz,
                 "--cleanup closes the rooms the bench made; with --no-setup it made none");
        return -1;
    }
    if (!o->run_id[0])
        snprintf(o->run_id, sizeof(o->run_id), "%08x", o->run_tag);
    default_sources(o);
    return 0;
}

void lg_bench_opts_free(struct lg_bench_opts *o)
{
    for (int i = 0; i < o->nsources; i++)
        free(o->sources[i]);
    o->nsources = 0;
}
