/* api.h - the HTTP API of the contract: room, SKU and coupon configuration
 * for the back office, order look-up (masked), and /healthz. Routing is a
 * pure function so every path rule is unit-tested. */
#ifndef LG_FEATURES_API_H
#define LG_FEATURES_API_H

#include "conn/http.h"
#include "livegate/text.h"

enum lg_route_id {
    LG_ROUTE_NOT_FOUND = 0,
    LG_ROUTE_METHOD_NOT_ALLOWED,
    LG_ROUTE_BAD_ID, /* a path segment that must be an ID is not one */
    LG_ROUTE_HEALTHZ,
    LG_ROUTE_METRICS,
    LG_ROUTE_ROOM_GET,
    LG_ROUTE_ROOM_PUT,
    LG_ROUTE_ROOM_DELETE, /* a closed room and its keys; its orders stay for their TTL */
    LG_ROUTE_SKU_PUT,
    LG_ROUTE_SKU_DELETE, /* off sale and unlisted; the record and its orders stay */
    LG_ROUTE_SKUS_GET,
    LG_ROUTE_COUPON_GET,
    LG_ROUTE_COUPON_PUT,
    LG_ROUTE_COUPON_DELETE,
    LG_ROUTE_ORDER_GET,
    LG_ROUTE_AUDIT_GET, /* GET /v1/audit?room=&limit= (admin) */
};

struct lg_route {
    enum lg_route_id id;
    char room[LG_ID_MAX + 1];
    char item[LG_ID_MAX + 1]; /* the sku, coupon or order id */
    const char *bad_field;    /* LG_ROUTE_BAD_ID: which segment */
    const char *allow;        /* the path's methods, for a 405's Allow ("GET, PUT") */
};

void lg_api_route(enum lg_http_method method, const char *path, struct lg_route *out);

/* Handles a complete request; answers through lg_http_respond. */
void lg_api_handle(struct lg_http *h);

#endif
