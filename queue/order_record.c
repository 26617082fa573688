/* order_record.c - packing and unpacking the order record's "d": the
 * fixed fields joined by NUL (order_record.h says why). Pure: no Redis. */
#include <stdbool.h>
#include <string.h>

#include "order_record.h"

const char *const lg_order_fixed_names[LG_ORDER_NFIXED] = {
    [LG_OF_ORDER_ID] = "order_id",
    [LG_OF_ROOM_ID] = "room_id",
    [LG_OF_GW] = "gw",
    [LG_OF_USER] = "user",
    [LG_OF_CLIENT_ORDER_ID] = "client_order_id",
    [LG_OF_SKU_ID] = "sku_id",
    [LG_OF_QTY] = "qty",
    [LG_OF_UNIT_PRICE] = "unit_price",
    [LG_OF_AMOUNT] = "amount",
    [LG_OF_CURRENCY] = "currency",
    [LG_OF_PAYMENT_METHOD] = "payment_method",
    [LG_OF_COUPON_ID] = "coupon_id",
    [LG_OF_TIER] = "tier",
    [LG_OF_BUYER] = "buyer",
    [LG_OF_PHONE] = "phone",
    [LG_OF_REQ] = "req",
    [LG_OF_PII] = "pii",
};

size_t lg_order_record_len(const char *const values[LG_ORDER_NFIXED])
{
    size_t len = LG_ORDER_NFIXED - 1; /* the separators */
    for (int i = 0; i < LG_ORDER_NFIXED; i++)
        len += values[i] ? strlen(values[i]) : 0;
    return len;
}

void lg_order_record_pack(char *out, const char *const values[LG_ORDER_NFIXED])
{
    for (int i = 0; i < LG_ORDER_NFIXED; i++) {
        size_t n = values[i] ? strlen(values[i]) : 0;
        memcpy(out, values[i] ? values[i] : "", n);
        out += n;
        *out++ = '\0'; /* a separator, and after the last value the end */
    }
}

int lg_order_record_unpack(const char *d, size_t len, const char *values[LG_ORDER_NFIXED],
                           size_t lens[LG_ORDER_NFIXED])
{
    const char *p = d, *end = d + len;
    for (int i = 0; i < LG_ORDER_NFIXED; i++) {
        const char *sep = memchr(p, '\0', (size_t)(end - p));
        bool last = i == LG_ORDER_NFIXED - 1;
        if (last ? sep != NULL : sep == NULL)
            return -1;
        values[i] = p;
        lens[i] = (size_t)((last ? end : sep) - p);
        p = last ? end : sep + 1;
    }
    return 0;
}

int lg_order_fixed_index(const char *name)
{
    for (int i = 0; i < LG_ORDER_NFIXED; i++)
        if (strcmp(name, lg_order_fixed_names[i]) == 0)
            return i;
    return -1;
}
