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
 *     waiting line (its retry_after_ms) and sets aside a block of the
 *     following places for the gateway it answers (it asks for as many as
 *     it expects to refuse during the hold, lg_shed_reserve). Refusing on
 *     its own, the gateway hands out those places one apart, so the
 *     refused clients of every gateway come back spread out at the rate
 *     places free, rather than all at once or G to a place with G
 *     gateways. When a quarter of its block is left it sends one order
 *     to the script, which (still refusing) reserves the next block; the
 *     turns run on past the block until it comes, so the room is never
 *     open to every submit while the answer is on its way;
 *   - the returning client: a session remembers the turns it was given
 *     (struct lg_turns), and a resubmit at its turn goes to the script
 *     past the local refusal: the place that frees then is its own. A
 *     submit before its turn is refused as a new one;
 *   - credit: without a block (the script reserved none), the gateway still
 *     sends the script one order per place that frees (the time between
 *     places, as the script said), so the places that free are filled and
 *     the script keeps the view fresh, while everything else stays off
 *     Redis. With a block the places that free belong to the turns
 *     handed out, so no credit goes to new submits. */
#ifndef LG_RULES_ADMISSION_RULES_H
#define LG_RULES_ADMISSION_RULES_H

#include <stdbool.h>
#include <stdint.h>

/* How long a refusal from the script is trusted before Redis is asked again. */
#define LG_SHED_HOLD_MS 1000
/* Once the hold is over, one order (the probe) goes to the script and the
 * rest are still refused with turns until its answer comes, or this long. */
#define LG_SHED_PROBE_MS 2000
/* A threshold learnt from admissions is kept this long after the last. */
#define LG_SHED_LEARNT_KEEP_MS 60000
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

/* Places asked of the script per refusal when nothing is known yet, and
 * at most (enqueue.lua caps it the same). */
#define LG_SHED_RESERVE_MIN 16
#define LG_SHED_RESERVE_MAX 4096

/* One room's last refusals, in the gateway's monotonic milliseconds. */
struct lg_shed {
    int64_t hold_until_ms[2]; /* per lg_shed_priority: refuse locally before this */
    double next_turn_ms[2];   /* the turn the last refusal was given */
    double slot_ms;           /* the time between two places, as the script said; 0: unknown */
    double credit[2];         /* orders that may still go to the script while held */
    int64_t credit_at_ms[2];  /* when credit was last topped up */
    long long threshold;      /* the room's high-value threshold, as the script said */
    bool has_threshold;
    bool has_block[2];         /* the script reserved places for this hold */
    int block_left[2];         /* of them, not handed out yet */
    int block_used[2];         /* handed out from the current block */
    bool asked[2];             /* an order went to the script for the next block */
    bool gated[2];             /* refused by the script, and not admitted since */
    int64_t learnt_ms;         /* the last high admission the threshold was learnt from */
    int64_t probe_since_ms[2]; /* the hold over: one order is at the script; 0: none */
    int reserve;               /* places to ask for with the next script call; 0: not known yet */
};

/* The script refused an order of priority p with its turn in retry_ms;
 * threshold is the room's high-value threshold as it sent it ("" for none)
 * and slot_us the time between two places in microseconds ("0" or NULL:
 * not known). */
void lg_shed_note_busy(struct lg_shed *s, int64_t now_ms, enum lg_shed_priority p, int64_t retry_ms,
                       const char *threshold, const char *slot_us);
/* The script also reserved block_n places for this gateway, the first
 * block_ms from now (both as it sent them; "0" or NULL: none). Sizes the
 * next reservation from how the last block went: doubled when it ran out,
 * else what was used and a quarter more. */
void lg_shed_note_block(struct lg_shed *s, int64_t now_ms, enum lg_shed_priority p,
                        const char *block_ms, const char *block_n);
/* The places to ask the script to reserve (LG_SHED_RESERVE_MIN.._MAX). */
int lg_shed_reserve(const struct lg_shed *s);
/* 0: ask Redis (not refused lately, held with a place's credit, which it
 * takes, held with a block down to its last quarter, once per block, or
 * the hold over and no probe out: this order is the probe);
 * otherwise the retry_after_ms (before jitter) to refuse an order of
 * priority p with: the next turn, which it takes. */
int64_t lg_shed_take_turn(struct lg_shed *s, int64_t now_ms, enum lg_shed_priority p);
/* Refusing without a script call for another reason (Redis behind, say):
 * the next turn when the room is held, else 0. */
int64_t lg_shed_turn_only(struct lg_shed *s, int64_t now_ms, enum lg_shed_priority p);
/* The script admitted an order of priority p (or called it a duplicate):
 * the room takes p's orders again, and high ones when p is normal. */
void lg_shed_note_open(struct lg_shed *s, enum lg_shed_priority p);
/* Whether nothing is held any more: the entry may be forgotten. */
bool lg_shed_idle(const struct lg_shed *s, int64_t now_ms);
/* An order of amount was admitted high without a vip token at now_ms: the
 * threshold is at most amount (until the script names it in a refusal),
 * and the entry is kept LG_SHED_LEARNT_KEEP_MS after the last of these. */
void lg_shed_note_high_amount(struct lg_shed *s, int64_t now_ms, long long amount);
/* The priority enqueue.lua would give the order, from what the script last
 * said of the room's threshold, or learnt from its admissions (vip is
 * always high). */
enum lg_shed_priority lg_shed_priority_of(const struct lg_shed *s, long long amount, bool vip);

/* Whether a gateway lag_ms behind Redis (its oldest unanswered order has
 * waited that long, see intake.c) refuses a submit on its own, given the
 * bound (a fifth of LIVEGATE_ADMIT_WAIT_MS). A high-value order never is
 * for the lag: it is shed last. A client back at its turn is let through
 * up to twice the bound, not without limit: turns are handed out at the
 * best rate of late, and when Redis answers slower than that (it shares
 * the CPU with the flood) the returning clients alone would pile up in the
 * batches waiting for a call, ten seconds of them under a flood of three
 * times the capacity, and every order behind them waited that long. */
bool lg_admission_lagging(int64_t lag_ms, int64_t bound_ms, bool high, bool returning);

/* A high-value batch that has waited this long for an enqueue call may go
 * beside the normal calls (lg_admission_call_slots). At max a call takes
 * 10-30 ms on a 2-core machine, and a high-value batch that waits for the
 * next one gathers more orders into one call; going at once made calls
 * smaller and cost Redis 10-20 % more an order. */
#define LG_HIGH_EXTRA_CALL_MS 50
/* The enqueue calls a gateway may have in flight when the next batch to
 * go is of priority high and has waited waited_ms: calls
 * (LIVEGATE_INTAKE_CALLS), twice as many for a high-value batch that has
 * waited LG_HIGH_EXTRA_CALL_MS. Under a flood the calls take long (Redis
 * and the gateway short of CPU: 0.5 to 1.5 s a call on a 2-core machine),
 * and a high-value batch that waited for one of the normal calls to come
 * back waited longer than its own call took; the high-value orders
 * arriving meanwhile then outgrew the calls that could carry them (4,000
 * of them waited 10 s in one gateway). High-value batches go first, so
 * the extra calls are theirs alone; a cap of their own with room for 8
 * calls made Redis's queue longer and the validators late
 * (docs/BENCHMARKS.md). */
int lg_admission_call_slots(int calls, bool high, int64_t waited_ms);

/* base_ms clamped to [LG_RETRY_MIN_MS, LG_RETRY_MAX_MS], then spread
 * uniformly up to a tenth again by rnd: the retry_after_ms a client is
 * sent. Turns are a place apart already; the jitter only keeps clients
 * given the same turn (a stall, the in-flight cap) out of step, and a
 * larger one would send clients back long after the place kept for them. */
int64_t lg_admission_retry_after(int64_t base_ms, uint32_t rnd);

/* The turns one session was given: a resubmit of the same client_order_id
 * at its turn is the returning client (see the top). A connection that
 * carries many buyers' orders (a shop's kiosk, the bench's flood of 13
 * orders a second per connection) has dozens refused at once; with too
 * few entries their counts and turns are forgotten, and they come back
 * as new submits, to be refused again. Made on a session's first refusal. */
#define LG_TURNS_MAX 256
/* A resubmit this early still counts as at its turn (clocks, timers). */
#define LG_TURN_EARLY_MS 50
struct lg_turns {
    uint64_t id[LG_TURNS_MAX];     /* lg_turns_id of the client_order_id; 0: free */
    int64_t due_ms[LG_TURNS_MAX];  /* INT64_MAX once taken (the count stays) */
    uint8_t refused[LG_TURNS_MAX]; /* BUSY answers the id has had, up to 255 */
    int next;                      /* where the next turn goes once all are taken: the oldest */
    /* The connection's line past its in-flight cap, per priority (index 1:
     * high-value): when the last submit refused for the cap was told to
     * come back (lg_admission_cap_turn). */
    double cap_line_ms[2];
};
/* A client_order_id's key in struct lg_turns (never 0). */
uint64_t lg_turns_id(const char *client_order_id);
/* Remembers that id was told to come back at due_ms (replacing its older turn). */
void lg_turns_note(struct lg_turns *t, uint64_t id, int64_t due_ms);
/* Whether id has a turn that is due at now_ms (at most LG_TURN_EARLY_MS
 * early); the turn is used up either way once due, and kept if not. */
bool lg_turns_take(struct lg_turns *t, uint64_t id, int64_t now_ms);
/* How many BUSY answers id has had (0 for an id not remembered). */
int lg_turns_refused(const struct lg_turns *t, uint64_t id);

/* Whether a connection's next submit is past LIVEGATE_CONN_INFLIGHT (cap):
 * a normal order counts every submit of the connection still unanswered, a
 * high-value one only the high-value ones. Otherwise a viewer's normal
 * orders waiting for their enqueue call would get its high-value order
 * RATE_LIMITED, though the gateway sends high-value orders first. So a
 * connection holds at most twice cap, of which at most cap normal. */
bool lg_admission_conn_full(int in_flight, int high_in_flight, int cap, bool high);

/* The retry_after_ms (before jitter) of a submit refused because its
 * connection holds cap submits unanswered (high: a high-value one, counted
 * against the high-value ones): its place in the connection's line. The
 * connection's submits are answered about lag_ms after they arrive, so a
 * place frees every lag_ms / cap; each refused submit is told to come back
 * one place after the one refused before it, and not before now. A wait
 * the same for all (the lag itself) would bring every refused submit back
 * at once, to be refused again and again: under a flood those refusals
 * alone would take the CPU that Redis and the validators need. Never less
 * than LG_RETRY_INFLIGHT_MS nor more than LG_RETRY_MAX_MS. */
int64_t lg_admission_cap_turn(struct lg_turns *t, int64_t now_ms, int64_t lag_ms, int cap,
                              bool high);

/* A line of refused submits that come back one place_ms apart, the first
 * ahead_ms from now (what is already waiting before them): the turn (ms
 * from now, LG_RETRY_MIN_MS to LG_RETRY_MAX_MS) of the next submit put in
 * it. *line_ms holds the last turn handed out, in fractions of a ms. The
 * gateway's line for submits refused because Redis is behind (intake.c):
 * they come back at the rate the enqueue script admits its orders, not
 * all at once. */
int64_t lg_admission_line_turn(double *line_ms, int64_t now_ms, int64_t ahead_ms, double place_ms);

/* The rate (orders per ms) that line moves at: the faster of the rate the
 * script was measured to admit at (admitted_per_ms, > 0) and the rate the
 * gateway took in the orders it holds, in_flight over lag_ms (how long
 * the oldest of them has waited). Under a steady flood the two agree
 * (Little's law; the oldest order has waited longer than most, so the
 * second is the lower). In a burst the admission rate is measured while
 * the gateway is busy reading thousands of submits: a quarter of what it
 * admitted a second later, when turns placed at it sent clients back 4 s
 * on to a queue that had emptied in 1.5 s (docs/BENCHMARKS.md). A turn
 * is a guess either way: one too early costs the client another refusal
 * and a later turn, one too late leaves a viewer waiting on an empty
 * queue, so the line takes the faster guess. The held orders stand for a
 * rate only while the gateway is behind (lag_ms over bound_ms): refused
 * for holding LIVEGATE_INTAKE_IN_FLIGHT orders that are still young, they
 * came in faster than it admits, and the measured rate stands. */
double lg_admission_line_rate(double admitted_per_ms, int in_flight, int64_t lag_ms,
                              int64_t bound_ms);

/* The retry_after_ms (before jitter) of a submit refused because Redis is
 * behind, when the room has no turns to give: a quarter to a half of the
 * admitted wait (rnd draws where), doubled for each BUSY the order has had
 * before (refused says how many), up to LG_RETRY_MAX_MS. Without a line,
 * clients refused again and again must back off, or a Redis that is behind
 * is kept behind by their retries. */
int64_t lg_admission_lag_retry(int64_t admit_wait_ms, int refused, uint32_t rnd);

#endif
