/* setup.h - the bench's rooms, SKUs and coupon, made through the gateway's
 * HTTP API with an operator token, and the stock read back for the audit. */
#ifndef LG_BENCH_SETUP_H
#define LG_BENCH_SETUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "options.h"
#include "report.h"

/* Creates every room of the run, its SKUs and its coupon. 0, or -1 with
 * err. *made: how many rooms were put in place, whatever the outcome. */
int lg_bench_setup(const struct lg_bench_opts *o, int *made, char *err, size_t errsz);

/* --cleanup: closes the first `made` rooms of the run and deletes them
 * (DELETE /v1/rooms/{room}?unpaid=cancel), once the totals of orders up to
 * last_order_us (monotonic; 0 for none) have reached Redis. A server
 * without the room delete (*no_delete set) gets the rooms closed with
 * their totals cleared instead. 0, or -1 with err (the last failure);
 * *cleaned counts the rooms done. */
int lg_bench_cleanup(const struct lg_bench_opts *o, int made, int64_t last_order_us, int *cleaned,
                     bool *no_delete, char *err, size_t errsz);

/* Reads stock_left of every SKU of the run into left[] (or initial[] when
 * initial is true). 0, or -1 with err. */
int lg_bench_read_stock(const struct lg_bench_opts *o, struct lg_bench_stock_check *s, int initial,
                        char *err, size_t errsz);

#endif
