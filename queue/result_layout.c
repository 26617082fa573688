/* result_layout.c - the names of the result fields, and the packing of a
 * reply-stream entry's results (see result_layout.h). Designated
 * initializers tie each name to its enum value, so reordering the enum
 * cannot pair a reader's index with another field's name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "result_layout.h"

const char *const lg_result_record_fields[LG_RESULT_NRECORD] = {
    [LG_RESULT_STATUS] = "status",
    [LG_RESULT_CODE] = "code",
    [LG_RESULT_FIELD] = "field",
    [LG_RESULT_MESSAGE] = "message",
    [LG_RESULT_AMOUNT] = "amount",
    [LG_RESULT_CONFIRMED_AT] = "confirmed_at_ms",
    [LG_RESULT_PAY_DEADLINE] = "pay_deadline_ms",
    [LG_RESULT_CLIENT_ORDER_ID] = "client_order_id",
    [LG_RESULT_REQ] = "req",
    [LG_RESULT_UPDATED_AT] = "updated_at_ms",
    [LG_RESULT_DECIDED_AT] = "decided_at_ms",
    [LG_RESULT_ACCEPTED_AT] = "accepted_at_ms",
    [LG_RESULT_WATCHERS] = "watchers",
};

const char *const lg_reply_fields[LG_REPLY_NFIELDS] = {
    [LG_REPLY_ORDER_ID] = "order_id",
    [LG_REPLY_ROOM] = "room",
    [LG_REPLY_USER] = "user",
    [LG_REPLY_STATUS] = "status",
    [LG_REPLY_CODE] = "code",
    [LG_REPLY_FIELD] = "field",
    [LG_REPLY_MESSAGE] = "message",
    [LG_REPLY_AMOUNT] = "amount",
    [LG_REPLY_CONFIRMED_AT] = "confirmed_at_ms",
    [LG_REPLY_PAY_DEADLINE] = "pay_deadline_ms",
    [LG_REPLY_CLIENT_ORDER_ID] = "client_order_id",
    [LG_REPLY_REQ] = "req",
    [LG_REPLY_ACCEPTED_AT] = "accepted_at_ms",
    [LG_REPLY_UPDATED_AT] = "updated_at_ms",
};

static int reserve(struct lg_reply_pack *p, size_t more)
{
    if (p->cap - p->len >= more)
        return 0;
    size_t cap = p->cap ? p->cap : 4096;
    while (cap - p->len < more)
        cap *= 2;
    char *grown = realloc(p->buf, cap);
    if (!grown)
        return -1;
    p->buf = grown;
    p->cap = cap;
    return 0;
}

int lg_reply_pack_add(struct lg_reply_pack *p, const char *const values[LG_REPLY_NFIELDS])
{
    size_t lens[LG_REPLY_NFIELDS], need = 0;
    for (int i = 0; i < LG_REPLY_NFIELDS; i++) {
        lens[i] = values[i] ? strlen(values[i]) : 0;
        need += lens[i] + 22; /* digits, ':' and the NUL */
    }
    if (reserve(p, need) != 0)
        return -1;
    for (int i = 0; i < LG_REPLY_NFIELDS; i++) {
        p->len += (size_t)sprintf(p->buf + p->len, "%zu:", lens[i]);
        if (lens[i])
            memcpy(p->buf + p->len, values[i], lens[i]);
        p->len += lens[i];
        p->buf[p->len++] = 0;
    }
    p->n++;
    return 0;
}

void lg_reply_pack_args(struct lg_reply_pack *p, const char *key)
{
    snprintf(p->count, sizeof(p->count), "%zu", p->n);
    const char *args[LG_REPLY_ARGC] = {key, LG_REPLY_STREAM_MAXLEN, LG_REPLY_STREAM_TTL_MS,
                                       p->count, p->buf ? p->buf : ""};
    for (int i = 0; i < LG_REPLY_ARGC; i++) {
        p->args[i] = args[i];
        p->lens[i] = strlen(args[i]);
    }
    p->lens[LG_REPLY_ARGC - 1] = p->len;
}

void lg_reply_pack_reset(struct lg_reply_pack *p)
{
    p->len = 0;
    p->n = 0;
}

void lg_reply_pack_free(struct lg_reply_pack *p)
{
    free(p->buf);
    memset(p, 0, sizeof(*p));
}

/* The length before a ':' at blob[*pos..len); -1 when there is none. */
static long long value_length(const char *blob, size_t len, size_t *pos)
{
    long long n = 0;
    size_t at = *pos, digits = 0;
    while (at < len && blob[at] >= '0' && blob[at] <= '9' && digits < 10) {
        n = n * 10 + (blob[at++] - '0');
        digits++;
    }
    if (digits == 0 || at >= len || blob[at] != ':')
        return -1;
    *pos = at + 1;
    return n;
}

int lg_reply_unpack(const char *blob, size_t len, size_t *pos, const char *values[LG_REPLY_NFIELDS])
{
    size_t at = *pos;
    for (int i = 0; i < LG_REPLY_NFIELDS; i++) {
        long long n = value_length(blob, len, &at);
        if (n < 0 || (size_t)n >= len - at || blob[at + (size_t)n] != 0 ||
            memchr(blob + at, 0, (size_t)n))
            return -1;
        values[i] = blob + at;
        at += (size_t)n + 1;
    }
    *pos = at;
    return 0;
}
