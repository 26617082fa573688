/* setup.h - the bench's rooms, SKUs and coupon, made through the gateway's
 * HTTP API with an operator token, and the stock read back for the audit. */
#ifndef LG_BENCH_SETUP_H
#define LG_BENCH_SETUP_H

#include <stddef.h>

#include "options.h"
#include "report.h"

/* Creates every room of the run, its SKUs and its coupon. 0, or -1 with err. */
int lg_bench_setup(const struct lg_bench_opts *o, char *err, size_t errsz);

/* Reads stock_left of every SKU of the run into left[] (or initial[] when
 * initial is true). 0, or -1 with err. */
int lg_bench_read_stock(const struct lg_bench_opts *o, struct lg_bench_stock_check *s, int initial,
                        char *err, size_t errsz);

#endif
