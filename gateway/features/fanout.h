/* fanout.h - what the gateway does with the events it hears on the bus:
 * an order's new status goes to the buyer's sessions on this gateway
 * (lg:ev:status), a SKU's new state to the viewers of its room (lg:ev:sku).
 * The payload parsers are pure so their rules are unit-tested. */
#ifndef LG_FEATURES_FANOUT_H
#define LG_FEATURES_FANOUT_H

#include <stdbool.h>
#include <stddef.h>

#include "livegate/text.h"

struct lg_gateway;
struct lg_session;

#define LG_STATUS_MAX 32

/* The fields of an lg:ev:status payload the buyer's order.status needs. */
struct lg_status_event {
    char room[LG_ID_MAX + 1];
    char user[LG_ID_MAX + 1];
    char order_id[LG_ID_MAX + 1];
    char client_order_id[LG_ID_MAX + 1]; /* "" when absent or null */
    char status[LG_STATUS_MAX + 1];
    long long at_ms;
};

/* An lg:ev:sku payload: {"room","sku_id","stock_left","on_sale","price"}. */
struct lg_sku_event {
    char room[LG_ID_MAX + 1];
    char sku_id[LG_ID_MAX + 1];
    long long stock_left;
    bool on_sale;
    long long price;
};

/* Each returns 0, or -1 when the payload is not JSON or a field is missing
 * or breaks its rule (IDs by the ID rules, integers >= 0). */
int lg_fanout_parse_status(const char *payload, size_t len, struct lg_status_event *out);
int lg_fanout_parse_sku(const char *payload, size_t len, struct lg_sku_event *out);

/* Subscribes the gateway to lg:ev:status and lg:ev:sku on gw->bus and
 * creates gw->fanout; stop unsubscribes and frees it (fan-outs still in
 * progress are abandoned: the gateway is closing its sessions anyway). */
int lg_fanout_start(struct lg_gateway *gw);
void lg_fanout_stop(struct lg_gateway *gw);

/* A session is going (only a viewer can be a fan-out's cursor): a fan-out
 * in progress must not keep a pointer to it. Called from the session's
 * close hook (dispatch.c), while the session is still in its room's index. */
void lg_fanout_forget_session(struct lg_gateway *gw, struct lg_session *s);

#endif
