/* admission_rules.c - jitter and local shedding (see admission_rules.h). */
#include <stdlib.h>

#include "rules/admission_rules.h"

static int64_t clamp_retry(int64_t ms)
{
    if (ms < LG_RETRY_MIN_MS)
        return LG_RETRY_MIN_MS;
    if (ms > LG_RETRY_MAX_MS)
        return LG_RETRY_MAX_MS;
    return ms;
}

static void hold(struct lg_shed *s, int p, int64_t now_ms, int64_t retry_ms)
{
    int64_t hold_ms = retry_ms < LG_SHED_HOLD_MS ? retry_ms : LG_SHED_HOLD_MS;
    if (now_ms + hold_ms > s->hold_until_ms[p])
        s->hold_until_ms[p] = now_ms + hold_ms;
    s->gated[p] = true;
    s->probe_since_ms[p] = 0;
    if ((double)(now_ms + retry_ms) > s->next_turn_ms[p])
        s->next_turn_ms[p] = (double)(now_ms + retry_ms);
}

void lg_shed_note_busy(struct lg_shed *s, int64_t now_ms, enum lg_shed_priority p, int64_t retry_ms,
                       const char *threshold, const char *slot_us)
{
    if (retry_ms < 1)
        retry_ms = 1;
    hold(s, p, now_ms, retry_ms);
    /* A normal order waits behind the high queue too. */
    if (p == LG_SHED_HIGH)
        hold(s, LG_SHED_NORMAL, now_ms, retry_ms);
    /* The script just refused: the places freed so far are taken. */
    for (int q = 0; q < 2; q++) {
        if (q == (int)p || p == LG_SHED_HIGH) {
            s->credit[q] = 0;
            s->credit_at_ms[q] = now_ms;
        }
    }
    char *end = NULL;
    long long t = threshold && *threshold ? strtoll(threshold, &end, 10) : 0;
    s->has_threshold = end && *end == 0;
    s->threshold = s->has_threshold ? t : 0;
    end = NULL;
    long long us = slot_us && *slot_us ? strtoll(slot_us, &end, 10) : 0;
    s->slot_ms = end && *end == 0 && us > 0 ? (double)us / 1000.0 : 0;
}

static int64_t next_turn(struct lg_shed *s, int64_t now_ms, enum lg_shed_priority p)
{
    double turn = s->next_turn_ms[p] + s->slot_ms;
    if (turn < (double)now_ms)
        turn = (double)now_ms;
    s->next_turn_ms[p] = turn;
    int64_t left = (int64_t)(turn - (double)now_ms + 0.5);
    return left < 1 ? 1 : left;
}

/* Tops p's credit up with the places freed since it last was. */
static void top_up(struct lg_shed *s, int64_t now_ms, enum lg_shed_priority p)
{
    if (s->slot_ms > 0 && now_ms > s->credit_at_ms[p])
        s->credit[p] += (double)(now_ms - s->credit_at_ms[p]) / s->slot_ms;
    if (s->credit[p] > LG_SHED_CREDIT_MAX)
        s->credit[p] = LG_SHED_CREDIT_MAX;
    s->credit_at_ms[p] = now_ms;
}

static int parse_count(const char *v, long long max)
{
    char *end = NULL;
    long long n = v && *v ? strtoll(v, &end, 10) : 0;
    if (!end || *end != 0 || n < 0)
        return 0;
    return (int)(n > max ? max : n);
}

void lg_shed_note_block(struct lg_shed *s, int64_t now_ms, enum lg_shed_priority p,
                        const char *block_ms, const char *block_n)
{
    int n = parse_count(block_n, LG_SHED_RESERVE_MAX);
    int first = parse_count(block_ms, LG_RETRY_MAX_MS);
    if (s->has_block[p]) {
        int used = s->block_used[p];
        int next = s->block_left[p] == 0 ? lg_shed_reserve(s) * 2 : used + used / 4;
        s->reserve = next < LG_SHED_RESERVE_MIN   ? LG_SHED_RESERVE_MIN
                     : next > LG_SHED_RESERVE_MAX ? LG_SHED_RESERVE_MAX
                                                  : next;
    }
    s->has_block[p] = n > 0 && first > 0 && s->slot_ms > 0;
    s->block_left[p] = s->has_block[p] ? n : 0;
    s->block_used[p] = 0;
    s->asked[p] = false;
    /* next_turn hands out the place after the one it holds. */
    if (s->has_block[p])
        s->next_turn_ms[p] = (double)(now_ms + first) - s->slot_ms;
}

int lg_shed_reserve(const struct lg_shed *s)
{
    return s->reserve > 0 ? s->reserve : LG_SHED_RESERVE_MIN;
}

/* Hands out the block's next place, if it has one left. */
static bool take_block_place(struct lg_shed *s, enum lg_shed_priority p)
{
    if (!s->has_block[p] || s->block_left[p] == 0)
        return false;
    s->block_left[p]--;
    s->block_used[p]++;
    return true;
}

void lg_shed_note_open(struct lg_shed *s, enum lg_shed_priority p)
{
    for (int q = 0; q < 2; q++) {
        if (q == (int)p || p == LG_SHED_NORMAL) {
            s->gated[q] = false;
            s->probe_since_ms[q] = 0;
        }
    }
}

/* The hold is over: the first order since goes to the script as the
 * probe, and until its answer (or LG_SHED_PROBE_MS) the room stays
 * refused with turns, rather than open to every submit while a slow Redis
 * answers: that burst would make it slower still. */
static int64_t after_hold(struct lg_shed *s, int64_t now_ms, enum lg_shed_priority p)
{
    if (s->probe_since_ms[p] == 0 || now_ms - s->probe_since_ms[p] >= LG_SHED_PROBE_MS) {
        s->probe_since_ms[p] = now_ms > 0 ? now_ms : 1;
        return 0;
    }
    take_block_place(s, p);
    return next_turn(s, now_ms, p);
}

int64_t lg_shed_take_turn(struct lg_shed *s, int64_t now_ms, enum lg_shed_priority p)
{
    if (!s->gated[p])
        return 0;
    if (now_ms >= s->hold_until_ms[p])
        return after_hold(s, now_ms, p);
    if (s->has_block[p]) {
        if (!s->asked[p] && s->block_left[p] <= lg_shed_reserve(s) / 4) {
            s->asked[p] = true; /* the script reserves the next block */
            return 0;
        }
        take_block_place(s, p);
        return next_turn(s, now_ms, p);
    }
    top_up(s, now_ms, p);
    if (s->credit[p] >= 1) {
        s->credit[p] -= 1;
        return 0;
    }
    return next_turn(s, now_ms, p);
}

int64_t lg_shed_turn_only(struct lg_shed *s, int64_t now_ms, enum lg_shed_priority p)
{
    if (!s->gated[p] || now_ms >= s->hold_until_ms[p] + LG_SHED_PROBE_MS)
        return 0;
    take_block_place(s, p);
    return next_turn(s, now_ms, p);
}

bool lg_shed_idle(const struct lg_shed *s, int64_t now_ms)
{
    if (s->learnt_ms && now_ms < s->learnt_ms + LG_SHED_LEARNT_KEEP_MS)
        return false;
    for (int p = 0; p < 2; p++)
        if (s->gated[p] && now_ms < s->hold_until_ms[p] + LG_SHED_PROBE_MS)
            return false;
    return true;
}

void lg_shed_note_high_amount(struct lg_shed *s, int64_t now_ms, long long amount)
{
    s->learnt_ms = now_ms;
    if (!s->has_threshold || amount < s->threshold) {
        s->threshold = amount;
        s->has_threshold = true;
    }
}

enum lg_shed_priority lg_shed_priority_of(const struct lg_shed *s, long long amount, bool vip)
{
    if (vip || (s->has_threshold && amount >= s->threshold))
        return LG_SHED_HIGH;
    return LG_SHED_NORMAL;
}

int64_t lg_admission_retry_after(int64_t base_ms, uint32_t rnd)
{
    int64_t base = clamp_retry(base_ms);
    return base + (int64_t)(rnd % (uint32_t)(base / 10 + 1));
}

uint64_t lg_turns_id(const char *client_order_id)
{
    /* FNV-1a: a session's few dozen ids only need to differ from each other. */
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *c = (const unsigned char *)client_order_id; *c; c++)
        h = (h ^ *c) * 1099511628211ULL;
    return h | 1;
}

static int turn_slot(const struct lg_turns *t, uint64_t id)
{
    for (int i = 0; i < LG_TURNS_MAX; i++)
        if (t->id[i] == id)
            return i;
    return -1;
}

void lg_turns_note(struct lg_turns *t, uint64_t id, int64_t due_ms)
{
    int i = turn_slot(t, id);
    if (i < 0)
        i = turn_slot(t, 0);
    if (i < 0) {
        i = t->next;
        t->next = (t->next + 1) % LG_TURNS_MAX;
    }
    if (t->id[i] != id)
        t->refused[i] = 0;
    t->id[i] = id;
    t->due_ms[i] = due_ms;
    if (t->refused[i] < UINT8_MAX)
        t->refused[i]++;
}

int lg_turns_refused(const struct lg_turns *t, uint64_t id)
{
    int i = turn_slot(t, id);
    return i < 0 ? 0 : t->refused[i];
}

int64_t lg_admission_lag_retry(int64_t admit_wait_ms, int refused, uint32_t rnd)
{
    int64_t base = admit_wait_ms / 4;
    if (base < LG_RETRY_MIN_MS)
        base = LG_RETRY_MIN_MS;
    for (int i = 0; i < refused && base < LG_RETRY_MAX_MS; i++)
        base *= 2;
    int64_t ms = base + (int64_t)(rnd % (uint32_t)(base + 1));
    return ms > LG_RETRY_MAX_MS ? LG_RETRY_MAX_MS : ms;
}

bool lg_turns_take(struct lg_turns *t, uint64_t id, int64_t now_ms)
{
    int i = turn_slot(t, id);
    if (i < 0 || t->due_ms[i] == INT64_MAX || now_ms < t->due_ms[i] - LG_TURN_EARLY_MS)
        return false;
    t->due_ms[i] = INT64_MAX;
    return true;
}

bool lg_admission_conn_full(int in_flight, int high_in_flight, int cap, bool high)
{
    return high ? high_in_flight >= cap : in_flight >= cap;
}

int64_t lg_admission_line_turn(double *line_ms, int64_t now_ms, int64_t ahead_ms, double place_ms)
{
    /* Kept in fractions of a millisecond: at thousands of places a second
     * a place is well under one, and rounding each up would space the
     * turns out to a thousand a second. */
    double place = place_ms > 0 ? place_ms : 0;
    double first = (double)now_ms + (double)(ahead_ms > 0 ? ahead_ms : 0);
    double turn = (*line_ms > first ? *line_ms : first) + place;
    if (turn - (double)now_ms < LG_RETRY_MIN_MS)
        turn = (double)(now_ms + LG_RETRY_MIN_MS);
    if (turn - (double)now_ms > LG_RETRY_MAX_MS)
        turn = (double)(now_ms + LG_RETRY_MAX_MS);
    *line_ms = turn;
    return (int64_t)(turn - (double)now_ms + 0.5);
}

double lg_admission_line_rate(double admitted_per_ms, int in_flight, int64_t lag_ms,
                              int64_t bound_ms)
{
    if (in_flight <= 0 || lag_ms <= 0 || lag_ms <= bound_ms)
        return admitted_per_ms;
    double held = (double)in_flight / (double)lag_ms;
    return held > admitted_per_ms ? held : admitted_per_ms;
}

int64_t lg_admission_cap_turn(struct lg_turns *t, int64_t now_ms, int64_t lag_ms, int cap,
                              bool high)
{
    double *line = &t->cap_line_ms[high ? 1 : 0];
    int64_t turn = lg_admission_line_turn(line, now_ms, 0, (double)lag_ms / (cap > 0 ? cap : 1));
    if (turn < LG_RETRY_INFLIGHT_MS) {
        turn = LG_RETRY_INFLIGHT_MS;
        *line = (double)(now_ms + turn);
    }
    return turn;
}

bool lg_admission_lagging(int64_t lag_ms, int64_t bound_ms, bool high, bool returning)
{
    if (high)
        return false;
    return lag_ms > (returning ? 2 * bound_ms : bound_ms);
}

int lg_admission_call_slots(int calls, bool high, int64_t waited_ms)
{
    return high && waited_ms >= LG_HIGH_EXTRA_CALL_MS ? 2 * calls : calls;
}
