/* pay_timeout_args.c - see pay_timeout_args.h. */
#include <stdio.h>

#include "pay_timeout_args.h"
#include "stats.h"

int lg_pay_timeout_args(struct lg_pay_timeout_args *a, const char *room, int batch, int audit_keep,
                        bool room_deleted)
{
    char(*k)[LG_KEY_MAX] = a->keys;
    if (lg_key_pay_due(k[0], LG_KEY_MAX, room) < 0 || lg_key_audit(k[1], LG_KEY_MAX, room) < 0 ||
        lg_key_stats(k[2], LG_KEY_MAX, room) < 0 || lg_key_order(k[3], LG_KEY_MAX, room, "") < 0 ||
        lg_key_sku(k[4], LG_KEY_MAX, room, "") < 0 ||
        lg_key_user_live(k[5], LG_KEY_MAX, room, "") < 0)
        return -1;
    snprintf(a->batch, sizeof(a->batch), "%d", batch);
    snprintf(a->keep, sizeof(a->keep), "%d", audit_keep);
    snprintf(a->ttl, sizeof(a->ttl), "%d", LG_STATS_TOTALS_TTL_S);
    const char *argv[] = {k[0], k[1],     k[2],    room,           k[3],   k[4],
                          k[5], a->batch, a->keep, LG_CHAN_STATUS, a->ttl, "room_deleted"};
    a->nkeys = 3;
    a->argc = room_deleted ? 12 : 11;
    for (int i = 0; i < 12; i++)
        a->argv[i] = argv[i];
    return 0;
}
