/* admission_rules.h - the gateway's share of admission, as pure functions.
 *
 * enqueue.lua takes the decision (it sees the room's backlog and drain rate
 * in Redis, the same for every gateway). What the gateway adds:
 *   - jitter on retry_after_ms, so refused clients do not come back in step;
 *   - shedding without Redis: once the script has refused a room's orders
 *     of one priority, the gateway refuses that priority for a short hold
 *     (LG_SHED_HOLD_MS) on its own. Under a flood most submits are refused,
 *     and each one costing a script call would take the capacity the
 *     admitted orders need. The view is at most LG_SHED_HOLD_MS old, and a
 *     refusal of a high order also stands for normal ones (they wait behind
 *     more), never the other way round, so high orders are shed last;
 *   - turns: the script gives each refused order its turn in the room's
 *     waiting line (its retry_after_ms) and says how far apart two places
 *     are; refusing on its own, the gateway goes on handing out turns one
 *     place apart after the script's last, so refused clients come back
 *     spread out rather than all at once. Each gateway hands out its own
 *     turns, so with several gateways a place may be promised to one
 *     client of each: the extra ones are refused again, with a new turn;
 *   - credit: while it refuses on its own, the gateway still sends the
 *     script one order per place that frees (the time between places, as
 *     the script said), so the places that free are filled and the script
 *     keeps the view fresh, while everything else stays off Redis. */
#ifndef LG_RULES_ADMISSION_RULES_H
#define LG_RULES_ADMISSION_RULES_H

#include <stdbool.h>
#include <stdint.h>

/* How long a refusal from the script is trusted before Redis is asked again. */
#define LG_SHED_HOLD_MS 200
/* At most this many orders' credit piles up while a room is held. */
#define LG_SHED_CREDIT_MAX 16
/* retry_after_ms is never less than this (before jitter) ... */
#define LG_RETRY_MIN_MS 50
/* ... nor more than this. */
#define LG_RETRY_MAX_MS 60000
/* The base retry_after_ms of a submit past the in-flight cap: the
 * connection's earlier submits are usually answered within it. */
#define LG_RETRY_INFLIGHT_MS 100

enum lg_shed_priority { LG_SHED_NORMAL = 0, LG_SHED_HIGH = 1 };

/* One room's last refusals, in the gateway's monotonic milliseconds. */
struct lg_shed {
    int64_t hold_until_ms[2]; /* per lg_shed_priority: refuse locally before this */
    double next_turn_ms[2];   /* the turn the last refusal was given */
    double slot_ms;           /* the time between two places, as the script said; 0: unknown */
    double credit[2];         /* orders that may still go to the script while held */
    int64_t credit_at_ms[2];  /* when credit was last topped up */
    long long threshold;      /* the room's high-value threshold, as the script said */
    bool has_threshold;
};

/* The script refused an order of priority p with its turn in retry_ms;
 * threshold is the room's high-value threshold as it sent it ("" for none)
 * and slot_us the time between two places in microseconds ("0" or NULL:
 * not known). */
void lg_shed_note_busy(struct lg_shed *s, int64_t now_ms, enum lg_shed_priority p, int64_t retry_ms,
                       const char *threshold, const char *slot_us);
/* 0: ask Redis (not held, or held with a place's credit, which it takes);
 * otherwise the retry_after_ms (before jitter) to refuse an order of
 * priority p with: the next turn, which it takes. */
int64_t lg_shed_take_turn(struct lg_shed *s, int64_t now_ms, enum lg_shed_priority p);
/* Refusing without a script call for another reason (Redis behind, say):
 * the next turn when the room is held, else 0. */
int64_t lg_shed_turn_only(struct lg_shed *s, int64_t now_ms, enum lg_shed_priority p);
/* Whether nothing is held any more: the entry may be forgotten. */
bool lg_shed_idle(const struct lg_shed *s, int64_t now_ms);
/* The priority enqueue.lua would give the order, from what the script last
 * said of the room's threshold (vip is always high). */
enum lg_shed_priority lg_shed_priority_of(const struct lg_shed *s, long long amount, bool vip);

/* base_ms clamped to [LG_RETRY_MIN_MS, LG_RETRY_MAX_MS], then spread
 * uniformly up to half again by rnd: the retry_after_ms a client is sent. */
int64_t lg_admission_retry_after(int64_t base_ms, uint32_t rnd);

#endif
