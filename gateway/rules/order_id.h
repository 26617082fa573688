/* order_id.h - the gateway's order ids, and the room one of them names.
 *
 * An order id is "o-", the milliseconds in base 36, "-", 12 random hex
 * digits: sortable by time and unique across gateways without
 * coordination. When the room's id fits (the whole within the contract's
 * 64 characters of an ID), "-" and the room id follow.
 *
 * Why the room in the id: GET /v1/orders/{id} and order.update name an
 * order by its id alone, and the record's key holds the room's hash tag.
 * Without the room in the id, every order cost a key of its own in Redis
 * (lg:oidx:{order_id} -> room, a SET with its TTL next to each enqueue and
 * an EXPIRE after each move): about 15,000 of Redis's instructions an
 * order, a twentieth of all it spends on one, and a key an order for
 * seven days. Ids without the room (a room id too long for it, and every
 * order of an earlier release) still have their index.
 *
 * Clients treat an order id as opaque; nothing else may read it apart. */
#ifndef LG_RULES_ORDER_ID_H
#define LG_RULES_ORDER_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "livegate/text.h"

#define LG_ORDER_ID_RANDOM 6 /* bytes, written as 12 hex digits */

/* Writes the id of an order of room accepted at wall_ms with the random
 * bytes rnd into out. Returns true when the id names the room, false when
 * the room id is too long for it (then the order needs its index). */
bool lg_order_id_format(char out[LG_ID_MAX + 1], uint64_t wall_ms,
                        const unsigned char rnd[LG_ORDER_ID_RANDOM], const char *room);

/* The room an order id names, copied into room; false for an id that names
 * none (an id without it, or not of this shape at all: its room is then
 * only in its index). */
bool lg_order_id_room(const char *order_id, char room[LG_ID_MAX + 1]);

#endif
