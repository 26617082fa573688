/* options.h - livegate-bench's command line. Parsing is pure (no I/O besides
 * the error text it returns) so every option and bound is unit-tested; the
 * help text lives next to the defaults it documents. */
#ifndef LG_BENCH_OPTIONS_H
#define LG_BENCH_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slo.h"

enum lg_bench_shape { LG_SHAPE_STEADY = 0, LG_SHAPE_BURST, LG_SHAPE_MAX };

#define LG_BENCH_MAX_SOURCES 64
#define LG_BENCH_MAX_PIDS 64
#define LG_BENCH_MAX_ROOMS 256
#define LG_BENCH_MAX_SKUS 4096 /* rooms x SKUs per room */

struct lg_bench_opts {
    enum lg_bench_shape shape;
    char host[256];
    int port;
    char secret[512];
    int conns;         /* viewer connections, all workers together */
    int procs;         /* worker processes */
    double rate;       /* steady: orders/s, all workers together */
    double duration_s; /* steady, max: how long orders are sent */
    double ramp_s;     /* time over which connections are opened */
    double window_s;   /* burst: every viewer submits within this window */
    int bursts;        /* burst: how many times */
    double burst_gap_s;
    int inflight; /* max: orders in flight per connection */
    /* max: an order leaves flight at order.accepted instead of its final
     * result (measures intake alone; the queue may outgrow the validators) */
    bool inflight_until_accept;
    double drain_s; /* after sending: wait this long for final results */

    /* traffic mix, each a share 0..1 */
    double dup_share;       /* submissions resent with the same client_order_id */
    double reconnect_share; /* of those, resent on a new connection */
    double high_share;      /* orders of the room's high-value SKU */
    double vip_share;       /* viewers whose token says tier vip */
    double invalid_share;   /* orders breaking one field rule */
    double coupon_share;    /* orders with a coupon */

    int rooms;
    int skus;           /* per room, besides the high-value SKU */
    long long stock;    /* per SKU */
    int limit_per_user; /* per SKU */
    long long price;    /* fen, of the ordinary SKUs */
    long long high_threshold;

    char run_id[17];                     /* tags rooms, users and client_order_ids */
    char *sources[LG_BENCH_MAX_SOURCES]; /* source addresses to bind, owned */
    int nsources;
    int gateway_pids[LG_BENCH_MAX_PIDS];
    int ngateway_pids;
    int pids[LG_BENCH_MAX_PIDS]; /* --pid: other processes whose CPU per order is reported */
    int npids;
    char json_path[1024];
    char csv_path[1024];
    bool no_setup; /* rooms already exist (a run against someone else's system) */
    bool cleanup;  /* close the rooms made and clear their totals after the run */
    struct lg_slo_set slo;
    unsigned seed;
    uint32_t run_tag; /* random, names the run when --run-id is not given */
};

/* Fills *o from argv. Returns 0; 1 when --help was asked (help printed to
 * stdout); -1 with a message in err for a bad option. Frees nothing on error:
 * call lg_bench_opts_free either way. */
int lg_bench_opts_parse(struct lg_bench_opts *o, int argc, char **argv, char *err, size_t errsz);
void lg_bench_opts_free(struct lg_bench_opts *o);
const char *lg_bench_shape_name(enum lg_bench_shape s);

#endif
