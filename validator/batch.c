/* batch.c - the entries in hand (see internal.h). Entries come from
 * XREADGROUP and XAUTOCLAIM replies; the batch grows as needed, is reused
 * from cycle to cycle and freed with the validator. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* A reply string into a fixed field, cut to fit (an ID that long fails the
 * checks later). memcpy, not snprintf: this runs six times per entry. */
static void copy_str(char *dst, size_t n, const redisReply *r)
{
    size_t len = r && r->type == REDIS_REPLY_STRING ? r->len : 0;
    if (len >= n)
        len = n - 1;
    memcpy(dst, r && len ? r->str : "", len);
    dst[len] = 0;
}

static void copy_cstr(char *dst, size_t n, const char *src, size_t len)
{
    if (len >= n)
        len = n - 1;
    memcpy(dst, src, len);
    dst[len] = 0;
}

void lgv_batch_clear(struct lg_validator *v)
{
    for (size_t i = 0; i < v->nbatch; i++)
        free(v->batch[i].result_block);
    v->nbatch = 0;
    v->got_high = 0;
}

static struct lgv_entry *add_entry(struct lg_validator *v)
{
    if (v->nbatch == v->batch_cap) {
        size_t cap = v->batch_cap ? v->batch_cap * 2 : 256;
        struct lgv_entry *grown = realloc(v->batch, cap * sizeof(*grown));
        if (!grown)
            return NULL;
        v->batch = grown;
        v->batch_cap = cap;
    }
    struct lgv_entry *e = &v->batch[v->nbatch++];
    memset(e, 0, sizeof(*e));
    return e;
}

/* The parts of enqueue.lua's one value, order_id|user|sku_id|coupon_id|
 * accepted_at_ms|gw. A value of other than six parts leaves the ids empty:
 * the entry is then malformed. */
#define PACKED_PARTS 6

static void take_packed(struct lgv_entry *e, const redisReply *val)
{
    if (val->type != REDIS_REPLY_STRING)
        return;
    const char *part[PACKED_PARTS];
    size_t len[PACKED_PARTS], n = 0;
    const char *p = val->str, *end = val->str + val->len, *bar = NULL;
    do {
        if (n == PACKED_PARTS)
            return; /* a seventh part */
        bar = memchr(p, '|', (size_t)(end - p));
        part[n] = p;
        len[n++] = (size_t)((bar ? bar : end) - p);
        p = bar ? bar + 1 : end;
    } while (bar);
    if (n != PACKED_PARTS)
        return;
    copy_cstr(e->order_id, sizeof(e->order_id), part[0], len[0]);
    copy_cstr(e->user, sizeof(e->user), part[1], len[1]);
    copy_cstr(e->sku, sizeof(e->sku), part[2], len[2]);
    copy_cstr(e->coupon, sizeof(e->coupon), part[3], len[3]);
    copy_cstr(e->gw, sizeof(e->gw), part[5], len[5]);
}

/* The queue entry's fields: enqueue.lua's one value ("o"), or the fields
 * of an entry an earlier release wrote. */
static void take_fields(struct lgv_entry *e, const redisReply *fields)
{
    for (size_t f = 0; fields->type == REDIS_REPLY_ARRAY && f + 1 < fields->elements; f += 2) {
        const char *name = fields->element[f]->str;
        const redisReply *val = fields->element[f + 1];
        if (!name)
            continue;
        if (strcmp(name, "o") == 0)
            take_packed(e, val);
        else if (strcmp(name, "order_id") == 0)
            copy_str(e->order_id, sizeof(e->order_id), val);
        else if (strcmp(name, "user") == 0)
            copy_str(e->user, sizeof(e->user), val);
        else if (strcmp(name, "sku_id") == 0)
            copy_str(e->sku, sizeof(e->sku), val);
        else if (strcmp(name, "coupon_id") == 0)
            copy_str(e->coupon, sizeof(e->coupon), val);
        else if (strcmp(name, "gw") == 0)
            copy_str(e->gw, sizeof(e->gw), val);
    }
}

size_t lgv_batch_add_entries(struct lg_validator *v, const char *stream, const redisReply *entries)
{
    char room[LG_ID_MAX + 1];
    bool high;
    if (!entries || entries->type != REDIS_REPLY_ARRAY ||
        lg_key_parse_stream(stream, room, sizeof(room), &high) != 0)
        return 0;
    size_t stream_len = strlen(stream), room_len = strlen(room);
    size_t added = 0;
    for (size_t i = 0; i < entries->elements; i++) {
        const redisReply *item = entries->element[i];
        if (item->type != REDIS_REPLY_ARRAY || item->elements != 2 ||
            item->element[0]->type != REDIS_REPLY_STRING)
            continue; /* an entry trimmed while pending */
        struct lgv_entry *e = add_entry(v);
        if (!e)
            break;
        e->v = v;
        copy_cstr(e->stream, sizeof(e->stream), stream, stream_len);
        copy_cstr(e->room, sizeof(e->room), room, room_len);
        copy_str(e->id, sizeof(e->id), item->element[0]);
        take_fields(e, item->element[1]);
        if (!e->order_id[0] || !e->user[0] || !e->sku[0] || !e->gw[0])
            e->outcome = LGV_MALFORMED;
        added++;
    }
    return added;
}

/* XREADGROUP answers [[stream, entries], ...] or nil. */
size_t lgv_batch_add_read_reply(struct lg_validator *v, const redisReply *reply)
{
    size_t added = 0;
    if (!reply || reply->type != REDIS_REPLY_ARRAY)
        return 0;
    for (size_t i = 0; i < reply->elements; i++) {
        const redisReply *s = reply->element[i];
        if (s->type == REDIS_REPLY_ARRAY && s->elements == 2 && s->element[0]->str)
            added += lgv_batch_add_entries(v, s->element[0]->str, s->element[1]);
    }
    return added;
}
