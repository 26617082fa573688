/* bus.h - the gateway's end of the cross-process event bus: Redis Pub/Sub
 * on a connection of its own (a subscribed connection cannot carry other
 * commands). Other processes change what a gateway must tell its clients
 * (an order moved on, a SKU sold out, a monitor feed event); they PUBLISH on
 * an ordinary connection and every gateway that subscribed hears it.
 *
 * Pub/Sub is fire and forget: a message published while this gateway's bus
 * connection is down is not replayed. The channels carry state (a SKU's
 * stock, an order's status) that the next event or a client query brings up
 * to date, so that is acceptable; the bus re-subscribes every channel as
 * soon as the connection is back. */
#ifndef LG_FEATURES_BUS_H
#define LG_FEATURES_BUS_H

#include <stddef.h>

struct lg_gateway;
struct lg_bus; /* gw->bus, created in main.c, its own lg_redis connection in subscribe mode */

/* channel is the channel the message came on (for a pattern subscription,
 * the matching channel, not the pattern); payload is not NUL-terminated and
 * is valid only during the call. */
typedef void (*lg_bus_fn)(const char *channel, const char *payload, size_t len, void *arg);

struct lg_bus *lg_bus_new(struct lg_gateway *gw);
/* Starts connecting; reconnects by itself from then on. */
void lg_bus_start(struct lg_bus *b);
/* Closes the connection and frees b and every subscription; b must not be
 * used afterwards. Keep running the loop until the handles are closed. */
void lg_bus_close(struct lg_bus *b);

/* Subscriptions are reference counted by (channel, fn, arg) and re-sent after
 * a reconnect; a channel containing '*' is a pattern (PSUBSCRIBE). Returns 0,
 * or -1 when b is NULL or out of memory. Either may be called from inside a
 * bus callback. */
int lg_bus_subscribe(struct lg_bus *b, const char *channel, lg_bus_fn fn, void *arg);
void lg_bus_unsubscribe(struct lg_bus *b, const char *channel, lg_bus_fn fn, void *arg);

/* Counters for metrics and tests. */
struct lg_bus_stats {
    unsigned long long messages;   /* messages received on subscribed channels */
    unsigned long long reconnects; /* bus connections made after the first */
};
void lg_bus_get_stats(const struct lg_bus *b, struct lg_bus_stats *out);

#endif
