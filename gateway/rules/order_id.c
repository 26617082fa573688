/* order_id.c - the gateway's order ids (see order_id.h). Pure: the clock
 * and the random bytes are the caller's. */
#include <string.h>

#include "rules/order_id.h"

static const char DIGITS36[] = "0123456789abcdefghijklmnopqrstuvwxyz";
static const char HEX[] = "0123456789abcdef";

/* v in base 36 at out; returns the digits written (at most 13 for 64 bits). */
static size_t put_base36(uint64_t v, char *out)
{
    char tmp[16];
    size_t n = 0;
    do {
        tmp[n++] = DIGITS36[v % 36];
        v /= 36;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

/* Written by hand: snprintf's twelve "%02x" were 1 % of the gateway's CPU
 * at max (perf). */
bool lg_order_id_format(char out[LG_ID_MAX + 1], uint64_t wall_ms,
                        const unsigned char rnd[LG_ORDER_ID_RANDOM], const char *room)
{
    char *o = out;
    *o++ = 'o';
    *o++ = '-';
    o += put_base36(wall_ms, o);
    *o++ = '-';
    for (size_t i = 0; i < LG_ORDER_ID_RANDOM; i++) {
        *o++ = HEX[rnd[i] >> 4];
        *o++ = HEX[rnd[i] & 15];
    }
    size_t used = (size_t)(o - out), room_len = strlen(room);
    bool names_room = room_len > 0 && used + 1 + room_len <= LG_ID_MAX;
    if (names_room) {
        *o++ = '-';
        memcpy(o, room, room_len);
        o += room_len;
    }
    *o = 0;
    return names_room;
}

static bool all_of(const char *s, size_t n, const char *set)
{
    for (size_t i = 0; i < n; i++)
        if (!s[i] || !strchr(set, s[i]))
            return false;
    return true;
}

bool lg_order_id_room(const char *order_id, char room[LG_ID_MAX + 1])
{
    size_t len = strlen(order_id);
    if (len > LG_ID_MAX || strncmp(order_id, "o-", 2) != 0)
        return false;
    const char *ms = order_id + 2, *dash = strchr(ms, '-');
    if (!dash || dash == ms || dash - ms > 13 || !all_of(ms, (size_t)(dash - ms), DIGITS36))
        return false;
    const char *rnd = dash + 1;
    if (!all_of(rnd, 2 * LG_ORDER_ID_RANDOM, HEX) || rnd[2 * LG_ORDER_ID_RANDOM] != '-')
        return false;
    const char *name = rnd + 2 * LG_ORDER_ID_RANDOM + 1;
    size_t name_len = len - (size_t)(name - order_id);
    if (!lg_text_is_id(name, name_len))
        return false;
    memcpy(room, name, name_len + 1);
    return true;
}
