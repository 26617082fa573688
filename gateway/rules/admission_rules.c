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

int64_t lg_shed_take_turn(struct lg_shed *s, int64_t now_ms, enum lg_shed_priority p)
{
    if (now_ms >= s->hold_until_ms[p])
        return 0;
    top_up(s, now_ms, p);
    if (s->credit[p] >= 1) {
        s->credit[p] -= 1;
        return 0;
    }
    return next_turn(s, now_ms, p);
}

int64_t lg_shed_turn_only(struct lg_shed *s, int64_t now_ms, enum lg_shed_priority p)
{
    if (now_ms >= s->hold_until_ms[p])
        return 0;
    return next_turn(s, now_ms, p);
}

bool lg_shed_idle(const struct lg_shed *s, int64_t now_ms)
{
    return now_ms >= s->hold_until_ms[LG_SHED_NORMAL] && now_ms >= s->hold_until_ms[LG_SHED_HIGH];
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
    return base + (int64_t)(rnd % (uint32_t)(base / 2 + 1));
}
