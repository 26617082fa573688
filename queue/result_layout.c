/* result_layout.c - the names of the result fields (see result_layout.h).
 * Designated initializers tie each name to its enum value, so reordering
 * the enum cannot pair a reader's index with another field's name. */
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
