/* strmap.h - a string-keyed hash map with pointer values, for the gateway's
 * per-process indexes (connections per source address, sessions per user).
 * Keys are copied; values are borrowed: the map never frees a value. */
#ifndef LG_LIVEGATE_STRMAP_H
#define LG_LIVEGATE_STRMAP_H

#include <stddef.h>

struct lg_strmap;

struct lg_strmap *lg_strmap_new(void);
void lg_strmap_free(struct lg_strmap *m);

/* The value stored under key, or NULL. */
void *lg_strmap_get(const struct lg_strmap *m, const char *key);
/* Stores value under key (replacing any value). Returns 0, or -1 on OOM. */
int lg_strmap_put(struct lg_strmap *m, const char *key, void *value);
/* Removes key; returns its value or NULL. */
void *lg_strmap_del(struct lg_strmap *m, const char *key);
size_t lg_strmap_count(const struct lg_strmap *m);

#endif
