/* strmap.c - separate-chaining hash map (FNV-1a), doubling when the load
 * factor passes 1. Chaining keeps deletion simple, which matters because
 * connections come and go all the time. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "livegate/strmap.h"

struct entry {
    struct entry *next;
    uint64_t hash;
    void *value;
    char key[];
};

struct lg_strmap {
    struct entry **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;
};

static uint64_t hash_key(const char *key)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    return h;
}

struct lg_strmap *lg_strmap_new(void)
{
    struct lg_strmap *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->nbuckets = 64;
    m->buckets = calloc(m->nbuckets, sizeof(*m->buckets));
    if (!m->buckets) {
        free(m);
        return NULL;
    }
    return m;
}

void lg_strmap_free(struct lg_strmap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct entry *e = m->buckets[i];
        while (e) {
            struct entry *next = e->next;
            free(e);
            e = next;
        }
    }
    free(m->buckets);
    free(m);
}

static struct entry **find_slot(const struct lg_strmap *m, const char *key, uint64_t h)
{
    struct entry **slot = &m->buckets[h & (m->nbuckets - 1)];
    while (*slot && !((*slot)->hash == h && strcmp((*slot)->key, key) == 0))
        slot = &(*slot)->next;
    return slot;
}

static void grow(struct lg_strmap *m)
{
    size_t n = m->nbuckets * 2;
    struct entry **b = calloc(n, sizeof(*b));
    if (!b)
        return; /* keep working with longer chains */
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct entry *e = m->buckets[i];
        while (e) {
            struct entry *next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
}

void *lg_strmap_get(const struct lg_strmap *m, const char *key)
{
    struct entry *e = *find_slot(m, key, hash_key(key));
    return e ? e->value : NULL;
}

int lg_strmap_put(struct lg_strmap *m, const char *key, void *value)
{
    uint64_t h = hash_key(key);
    struct entry **slot = find_slot(m, key, h);
    if (*slot) {
        (*slot)->value = value;
        return 0;
    }
    size_t klen = strlen(key);
    struct entry *e = malloc(sizeof(*e) + klen + 1);
    if (!e)
        return -1;
    e->next = NULL;
    e->hash = h;
    e->value = value;
    memcpy(e->key, key, klen + 1);
    *slot = e;
    if (++m->count > m->nbuckets)
        grow(m);
    return 0;
}

void *lg_strmap_del(struct lg_strmap *m, const char *key)
{
    struct entry **slot = find_slot(m, key, hash_key(key));
    struct entry *e = *slot;
    if (!e)
        return NULL;
    void *value = e->value;
    *slot = e->next;
    free(e);
    m->count--;
    return value;
}

size_t lg_strmap_count(const struct lg_strmap *m)
{
    return m->count;
}
