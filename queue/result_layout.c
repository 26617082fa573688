/* result_layout.c - the names of the result fields (see result_layout.h).
 * Designated initializers tie each name to its enum value, so reordering
 * the enum cannot pair a reader's index with another field's name. */
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

const char **lg_reply_args_new(const char *key, size_t n, char nfields[16])
{
    const char **args = malloc((LG_REPLY_HEAD + LG_REPLY_NFIELDS * n) * sizeof(*args));
    if (!args)
        return NULL;
    snprintf(nfields, 16, "%d", LG_REPLY_NFIELDS);
    args[0] = key;
    args[1] = LG_REPLY_STREAM_MAXLEN;
    args[2] = LG_REPLY_STREAM_TTL_MS;
    args[3] = nfields;
    memcpy(&args[4], lg_reply_fields, sizeof(lg_reply_fields));
    return args;
}
