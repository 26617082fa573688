/* pay_timeout.h - the validator's drain of payment deadlines: the pure half
 * (reading pay_timeout.lua's answer, and when to look at a room again), so
 * it is unit-tested; pay_timeout.c runs the drain in the validator's cycle.
 * See queue/lua/pay_timeout.lua for what a call does. */
#ifndef LG_VALIDATOR_PAY_TIMEOUT_H
#define LG_VALIDATOR_PAY_TIMEOUT_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How often the drain runs: a due order is cancelled about this long after
 * its deadline at worst (plus a cycle's step). */
#define LGV_PAY_EVERY_MS 250
/* Due orders one call cancels at most: one call holds Redis for its run. */
#define LGV_PAY_BATCH 200
/* A room is looked at again within this even when its index was empty or
 * its next entry far off: another validator may have confirmed an order
 * there since, whose deadline is at least LIVEGATE_PAY_WINDOW_MS's minimum
 * (1000 ms) away. */
#define LGV_PAY_RECHECK_MAX_MS 1000
/* The audit trail's cap; the gateway's LG_AUDIT_KEEP (a unit test checks). */
#define LGV_PAY_AUDIT_KEEP 10000

/* pay_timeout.lua's answer. sku_ids point into the reply. */
#define LGV_PAY_MAX_SKUS LGV_PAY_BATCH
struct lgv_pay_result {
    long long cancelled;
    bool more;             /* the call stopped at its batch: more may be due now */
    long long next_due_in; /* ms until the index's next entry is due; -1: empty */
    const char *sku_ids[LGV_PAY_MAX_SKUS];
    size_t nskus;
};

/* 0, or -1 when reply is not pay_timeout.lua's answer (an error reply, a
 * lost one, a wrong shape). */
int lgv_pay_read_reply(const redisReply *reply, struct lgv_pay_result *out);

/* When (on now_ms's clock) the room that answered r is to be called again:
 * at once after a full batch, else when its next entry falls due, but
 * never later than LGV_PAY_RECHECK_MAX_MS from now. */
int64_t lgv_pay_next_check_ms(int64_t now_ms, const struct lgv_pay_result *r);

#endif
