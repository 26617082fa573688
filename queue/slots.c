/* slots.c - Redis Cluster hash slots (see slots.h). The validator reads the
 * streams of many rooms; on a cluster one command may only name keys of
 * one slot, so its reads go out one per group of rooms sharing a slot. */
#include <string.h>

#include "slots.h"

/* CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), bit by bit:
 * a slot is computed once per room the validator learns, not per read. */
static unsigned crc16(const char *buf, size_t len)
{
    unsigned crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (unsigned)(unsigned char)buf[i] << 8;
        for (int bit = 0; bit < 8; bit++)
            crc = (crc & 0x8000) ? ((crc << 1) ^ 0x1021) : (crc << 1);
        crc &= 0xffff;
    }
    return crc;
}

unsigned lg_slot_of_key(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len);
    if (open) {
        size_t rest = len - (size_t)(open - key) - 1;
        const char *close = memchr(open + 1, '}', rest);
        if (close && close > open + 1)
            return crc16(open + 1, (size_t)(close - open - 1)) % LG_SLOT_COUNT;
    }
    return crc16(key, len) % LG_SLOT_COUNT;
}

unsigned lg_slot_of_room(const char *room)
{
    return crc16(room, strlen(room)) % LG_SLOT_COUNT;
}

/* Insertion sort on the slot: stable, and the room lists it sorts are
 * re-grouped only when a room comes or goes. */
static void sort_by_slot(const unsigned *slots, size_t n, size_t *order)
{
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = 1; i < n; i++) {
        size_t item = order[i], j = i;
        while (j > 0 && slots[order[j - 1]] > slots[item]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = item;
    }
}

size_t lg_slot_group(const unsigned *slots, size_t n, size_t *order, size_t *starts)
{
    sort_by_slot(slots, n, order);
    size_t groups = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || slots[order[i]] != slots[order[i - 1]])
            starts[groups++] = i;
    starts[groups] = n;
    return groups;
}
