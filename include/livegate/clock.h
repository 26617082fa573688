/* clock.h - wall-clock and monotonic milliseconds. Wall time stamps what a
 * client sees (*_ms fields); monotonic time measures durations and deadlines
 * that must not jump when the system clock is corrected. */
#ifndef LG_LIVEGATE_CLOCK_H
#define LG_LIVEGATE_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t lg_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int64_t lg_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline int64_t lg_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
