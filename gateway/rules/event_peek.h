/* event_peek.h - one top-level string of a bus event, read without parsing
 * the event.
 *
 * Why: every gateway hears every lg:ev:status event (each order.update, each
 * order a room delete cancels), and parsing one with jansson costs about
 * 57,000 instructions. Most concern a buyer with no connection on this
 * gateway and a room no monitor here watches, so the gateway first peeks at
 * "room" and "user" and parses only the events it will deliver. With many
 * gateways that turns a parse per event per gateway into about one per
 * event. */
#ifndef LG_RULES_EVENT_PEEK_H
#define LG_RULES_EVENT_PEEK_H

#include <stddef.h>

/* Copies into out the value of the member key of the JSON object in
 * json[0..len) and returns 0, when the object has that member once at its
 * top level and its value is a string of at most outsz - 1 bytes without
 * escapes. Returns -1 otherwise (absent, twice, not a string, escaped,
 * too long, a top-level key with an escape in it, or not an object): the
 * caller then parses the event in full, as it did before. The text is not
 * validated: a value peeked from text that is not JSON is still the one a
 * parser that accepts it would find, and the full parse rejects it later
 * for the events that are delivered. out is "" after -1 (outsz > 0). */
int lg_event_peek(const char *json, size_t len, const char *key, char *out, size_t outsz);

#endif
