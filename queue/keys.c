/* keys.c - builders for the key layout described in keys.h. */
#include <stdio.h>
#include <string.h>

#include "keys.h"

static int fit(int len, size_t n)
{
    return (len < 0 || (size_t)len >= n) ? -1 : len;
}

int lg_key_room(char *buf, size_t n, const char *room)
{
    return fit(snprintf(buf, n, "lg:{%s}:room", room), n);
}

int lg_key_sku(char *buf, size_t n, const char *room, const char *sku)
{
    return fit(snprintf(buf, n, "lg:{%s}:sku:%s", room, sku), n);
}

int lg_key_sku_set(char *buf, size_t n, const char *room)
{
    return fit(snprintf(buf, n, "lg:{%s}:skus", room), n);
}

int lg_key_coupon(char *buf, size_t n, const char *room, const char *coupon)
{
    return fit(snprintf(buf, n, "lg:{%s}:coupon:%s", room, coupon), n);
}

int lg_key_order(char *buf, size_t n, const char *room, const char *order_id)
{
    return fit(snprintf(buf, n, "lg:{%s}:order:%s", room, order_id), n);
}

int lg_key_idem(char *buf, size_t n, const char *room, const char *user,
                const char *client_order_id)
{
    return fit(snprintf(buf, n, "lg:{%s}:idem:%s/%s", room, user, client_order_id), n);
}

int lg_key_stream(char *buf, size_t n, const char *room, bool high)
{
    return fit(snprintf(buf, n, "lg:{%s}:q:%s", room, high ? "high" : "normal"), n);
}

int lg_key_order_index(char *buf, size_t n, const char *order_id)
{
    return fit(snprintf(buf, n, "lg:oidx:{%s}", order_id), n);
}

int lg_key_coupon_users(char *buf, size_t n, const char *room, const char *coupon)
{
    return fit(snprintf(buf, n, "lg:{%s}:coupon_users:%s", room, coupon), n);
}

int lg_key_user_live(char *buf, size_t n, const char *room, const char *user)
{
    return fit(snprintf(buf, n, "lg:{%s}:live:%s", room, user), n);
}

int lg_key_dead_letter(char *buf, size_t n, const char *room)
{
    return fit(snprintf(buf, n, "lg:{%s}:dead", room), n);
}

int lg_key_audit(char *buf, size_t n, const char *room)
{
    return fit(snprintf(buf, n, "lg:{%s}:audit", room), n);
}

int lg_key_reply_stream(char *buf, size_t n, const char *gateway_id)
{
    return fit(snprintf(buf, n, "lg:gw:{%s}:replies", gateway_id), n);
}

int lg_key_stats(char *buf, size_t n, const char *room)
{
    return fit(snprintf(buf, n, "lg:{%s}:stats", room), n);
}

int lg_key_stats_conns(char *buf, size_t n, const char *room)
{
    return fit(snprintf(buf, n, "lg:{%s}:stats:conns", room), n);
}

int lg_key_stats_latency(char *buf, size_t n, const char *room, long long unix_second)
{
    return fit(snprintf(buf, n, "lg:{%s}:stats:lat:%lld", room, unix_second), n);
}

int lg_chan_feed(char *buf, size_t n, const char *room)
{
    return fit(snprintf(buf, n, "lg:ev:feed:%s", room), n);
}

int lg_key_feed_watched(char *buf, size_t n, const char *room)
{
    return fit(snprintf(buf, n, "lg:{%s}:feed:watched", room), n);
}

int lg_key_room_load(char *buf, size_t n, const char *room)
{
    return fit(snprintf(buf, n, "lg:{%s}:load", room), n);
}

int lg_key_user_rate(char *buf, size_t n, const char *room, const char *user)
{
    return fit(snprintf(buf, n, "lg:{%s}:rate:%s", room, user), n);
}

int lg_key_room_sweep(char *buf, size_t n, const char *room)
{
    return fit(snprintf(buf, n, "lg:{%s}:sweep", room), n);
}

int lg_key_sku_gate(char *buf, size_t n, const char *room, const char *sku)
{
    return fit(snprintf(buf, n, "lg:{%s}:skugate:%s", room, sku), n);
}

int lg_key_pay_due(char *buf, size_t n, const char *room)
{
    return fit(snprintf(buf, n, "lg:{%s}:paydue", room), n);
}

int lg_key_room_deleting(char *buf, size_t n, const char *room)
{
    return fit(snprintf(buf, n, "lg:{%s}:deleting", room), n);
}

int lg_key_room_pattern(char *buf, size_t n, const char *room)
{
    return fit(snprintf(buf, n, "lg:{%s}:*", room), n);
}

bool lg_key_goes_with_room(const char *room, const char *key)
{
    static const char *const kinds[] = {
        "sku:", "skugate:", "coupon:", "coupon_users:", "live:", "stats:lat:", "rate:"};
    char prefix[LG_KEY_MAX];
    int len = snprintf(prefix, sizeof(prefix), "lg:{%s}:", room);
    if (len < 0 || (size_t)len >= sizeof(prefix) || strncmp(key, prefix, (size_t)len) != 0)
        return false;
    const char *rest = key + len;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        size_t k = strlen(kinds[i]);
        if (strncmp(rest, kinds[i], k) == 0 && rest[k])
            return true;
    }
    return false;
}

int lg_chan_heartbeat(char *buf, size_t n, const char *conn_name)
{
    return fit(snprintf(buf, n, "lg:ev:hb:%s", conn_name), n);
}

int lg_key_parse_stream(const char *key, char *room, size_t roomsz, bool *high)
{
    if (strncmp(key, "lg:{", 4) != 0)
        return -1;
    const char *start = key + 4;
    const char *end = strstr(start, "}:q:");
    if (!end || (size_t)(end - start) >= roomsz || end == start)
        return -1;
    const char *prio = end + 4;
    if (strcmp(prio, "high") == 0)
        *high = true;
    else if (strcmp(prio, "normal") == 0)
        *high = false;
    else
        return -1;
    memcpy(room, start, (size_t)(end - start));
    room[end - start] = 0;
    return 0;
}
