/* keys.c - builders for the key layout described in keys.h. */
#include <string.h>

#include "keys.h"
#include "livegate/text.h"

/* parts ends with NULL. Built by hand, not by snprintf: a submit names
 * three keys, and the format parsing cost more than the copying. */
static int key_of(char *buf, size_t n, const char *const parts[])
{
    size_t count = 0;
    while (parts[count])
        count++;
    return lg_text_join(buf, n, parts, count);
}

int lg_key_room(char *buf, size_t n, const char *room)
{
    return key_of(buf, n, (const char *const[]){"lg:{", room, "}:room", NULL});
}

int lg_key_sku(char *buf, size_t n, const char *room, const char *sku)
{
    return key_of(buf, n, (const char *const[]){"lg:{", room, "}:sku:", sku, NULL});
}

int lg_key_sku_set(char *buf, size_t n, const char *room)
{
    return key_of(buf, n, (const char *const[]){"lg:{", room, "}:skus", NULL});
}

int lg_key_coupon(char *buf, size_t n, const char *room, const char *coupon)
{
    return key_of(buf, n, (const char *const[]){"lg:{", room, "}:coupon:", coupon, NULL});
}

int lg_key_order(char *buf, size_t n, const char *room, const char *order_id)
{
    return key_of(buf, n, (const char *const[]){"lg:{", room, "}:order:", order_id, NULL});
}

int lg_key_idem(char *buf, size_t n, const char *room, const char *user,
                const char *client_order_id)
{
    return key_of(buf, n,
                  (const char *const[]){"lg:{", room, "}:idem:", user, "/", client_order_id, NULL});
}

int lg_key_stream(char *buf, size_t n, const char *room, bool high)
{
    return key_of(buf, n,
                  (const char *const[]){"lg:{", room, "}:q:", high ? "high" : "normal", NULL});
}

int lg_key_order_index(char *buf, size_t n, const char *order_id)
{
    return key_of(buf, n, (const char *const[]){"lg:oidx:{", order_id, "}", NULL});
}

int lg_key_coupon_users(char *buf, size_t n, const char *room, const char *coupon)
{
    return key_of(buf, n, (const char *const[]){"lg:{", room, "}:coupon_users:", coupon, NULL});
}

int lg_key_user_live(char *buf, size_t n, const char *room, const char *user)
{
    return key_of(buf, n, (const char *const[]){"lg:{", room, "}:live:", user, NULL});
}

int lg_key_dead_letter(char *buf, size_t n, const char *room)
{
    return key_of(buf, n, (const char *const[]){"lg:{", room, "}:dead", NULL});
}

int lg_key_audit(char *buf, size_t n, const char *room)
{
    return key_of(buf, n, (const char *const[]){"lg:{", room, "}:audit", NULL});
}

int lg_key_reply_stream(char *buf, size_t n, const char *gateway_id)
{
    return key_of(buf, n, (const char *const[]){"lg:gw:{", gateway_id, "}:replies", NULL});
}

int lg_key_stats(char *buf, size_t n, const char *room)
{
    return key_of(buf, n, (const char *const[]){"lg:{", room, "}:stats", NULL});
}

int lg_key_stats_conns(char *buf, size_t n, const char *room)
{
    return key_of(buf, n, (const char *const[]){"lg:{", room, "}:stats:conns", NULL});
}

int lg_key_stats_latency(char *buf, size_t n, const char *room, long long unix_second)
{
    char second[LG_TEXT_I64_MAX];
    lg_text_i64(second, unix_second);
    return key_of(buf, n, (const char *const[]){"lg:{", room, "}:stats:lat:", second, NULL});
}

int lg_chan_feed(char *buf, size_t n, const char *room)
{
    return key_of(buf, n, (const char *const[]){"lg:ev:feed:", room, NULL});
}

int lg_key_feed_watched(char *buf, size_t n, const char *room)
{
    return key_of(buf, n, (const char *const[]){"lg:{", room, "}:feed:watched", NULL});
}

int lg_key_room_load(char *buf, size_t n, const char *room)
{
    return key_of(buf, n, (const char *const[]){"lg:{", room, "}:load", NULL});
}

int lg_key_user_rate(char *buf, size_t n, const char *room, const char *user)
{
    return key_of(buf, n, (const char *const[]){"lg:{", room, "}:rate:", user, NULL});
}

int lg_key_room_sweep(char *buf, size_t n, const char *room)
{
    return key_of(buf, n, (const char *const[]){"lg:{", room, "}:sweep", NULL});
}

int lg_key_sku_gate(char *buf, size_t n, const char *room, const char *sku)
{
    return key_of(buf, n, (const char *const[]){"lg:{", room, "}:skugate:", sku, NULL});
}

int lg_key_pay_due(char *buf, size_t n, const char *room)
{
    return key_of(buf, n, (const char *const[]){"lg:{", room, "}:paydue", NULL});
}

int lg_key_room_deleting(char *buf, size_t n, const char *room)
{
    return key_of(buf, n, (const char *const[]){"lg:{", room, "}:deleting", NULL});
}

int lg_key_room_pattern(char *buf, size_t n, const char *room)
{
    return key_of(buf, n, (const char *const[]){"lg:{", room, "}:*", NULL});
}

bool lg_key_goes_with_room(const char *room, const char *key)
{
    static const char *const kinds[] = {
        "sku:", "skugate:", "coupon:", "coupon_users:", "live:", "stats:lat:", "rate:"};
    char prefix[LG_KEY_MAX];
    int len = key_of(prefix, sizeof(prefix), (const char *const[]){"lg:{", room, "}:", NULL});
    if (len < 0 || strncmp(key, prefix, (size_t)len) != 0)
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
    return key_of(buf, n, (const char *const[]){"lg:ev:hb:", conn_name, NULL});
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
