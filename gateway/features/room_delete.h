/* room_delete.h - DELETE /v1/rooms/{room}: a closed room and everything it
 * holds go, except what its orders need to stay readable for their TTL.
 * The rule and its steps are in room_delete.c and queue/lua/
 * room_delete.lua; docs/PROTOCOL.md has the contract. */
#ifndef LG_FEATURES_ROOM_DELETE_H
#define LG_FEATURES_ROOM_DELETE_H

#include <stdbool.h>

#include "conn/http.h"

/* Starts the deletion of room for request h, which is answered when it is
 * done (200), refused (404, 409) or failed (503). The deletion carries on
 * to its end if the client hangs up. cancel_unpaid: the request asked
 * ?unpaid=cancel, so orders waiting for payment are cancelled first. */
void lg_room_delete(struct lg_http *h, const char *room, bool cancel_unpaid);

#endif
