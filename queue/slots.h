/* slots.h - Redis Cluster hash slots of the key layout (keys.h), so a
 * command that names several keys can be split into one command per slot
 * and never meets CROSSSLOT on a cluster. Pure: no Redis, no allocation. */
#ifndef LG_QUEUE_SLOTS_H
#define LG_QUEUE_SLOTS_H

#include <stddef.h>

#define LG_SLOT_COUNT 16384

/* The slot of a key as Redis Cluster computes it: CRC16 (XMODEM) of the
 * hash tag (the text between the first '{' and the next '}', when that is
 * not empty), else of the whole key, modulo 16384. */
unsigned lg_slot_of_key(const char *key, size_t len);

/* The slot of every key of a room ("lg:{room}:..."). */
unsigned lg_slot_of_room(const char *room);

/* Groups n items by slot: fills order[0..n) with the item indices sorted by
 * slot (items of one slot keep their relative order) and starts[0..groups]
 * with where each group begins in order (starts[groups] == n). Returns the
 * number of groups. order and starts hold n and n + 1 entries. */
size_t lg_slot_group(const unsigned *slots, size_t n, size_t *order, size_t *starts);

#endif
