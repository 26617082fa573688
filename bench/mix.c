/* mix.c - draws the bench's orders from the traffic mix and writes them as
 * order.submit frames. Frames are written with snprintf rather than a JSON
 * library: a worker writes tens of thousands a second and every value here
 * is under the bench's control (no user text needs escaping). */
#include <stdio.h>
#include <string.h>

#include "mix.h"

void lg_rng_seed(struct lg_rng *r, uint64_t seed)
{
    r->s = seed ? seed : 0x9e3779b97f4a7c15ULL;
}

static uint64_t rng_next(struct lg_rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 2685821657736338717ULL;
}

double lg_rng_unit(struct lg_rng *r)
{
    return (double)(rng_next(r) >> 11) / 9007199254740992.0;
}

uint32_t lg_rng_below(struct lg_rng *r, uint32_t n)
{
    return n ? (uint32_t)(rng_next(r) % n) : 0;
}

long long lg_mix_coupon_discount(const struct lg_bench_opts *o)
{
    return o->price / 10 > 0 ? o->price / 10 : 1;
}

/* Ordinary SKUs cost --price; the high-value SKU costs the threshold plus the
 * coupon's discount, so it stays high-value with the coupon applied. */
long long lg_mix_sku_price(const struct lg_bench_opts *o, int sku)
{
    return sku >= o->skus ? o->high_threshold + lg_mix_coupon_discount(o) : o->price;
}

void lg_mix_room_id(const struct lg_bench_opts *o, int room, char *out, size_t outsz)
{
    snprintf(out, outsz, "bench-%s-r%d", o->run_id, room);
}

void lg_mix_sku_id(int sku, const struct lg_bench_opts *o, char *out, size_t outsz)
{
    if (sku >= o->skus)
        snprintf(out, outsz, "sku-high");
    else
        snprintf(out, outsz, "sku-%d", sku);
}

void lg_mix_draw(const struct lg_bench_opts *o, struct lg_rng *r, int room, bool vip,
                 bool may_coupon, struct lg_mix_order *m)
{
    memset(m, 0, sizeof(*m));
    m->room = room;
    bool high_sku = lg_rng_unit(r) < o->high_share;
    m->sku = high_sku ? o->skus : (int)lg_rng_below(r, (uint32_t)o->skus);
    /* One or two items: two ordinary items stay under the threshold (checked
     * by the options), and per-user limits are reached only on purpose. */
    m->qty = high_sku ? 1 : 1 + (int)lg_rng_below(r, 2);
    if (m->qty > o->limit_per_user)
        m->qty = o->limit_per_user;
    m->unit_price = lg_mix_sku_price(o, m->sku);
    m->coupon = may_coupon && lg_rng_unit(r) < o->coupon_share;
    m->amount = m->unit_price * m->qty - (m->coupon ? lg_mix_coupon_discount(o) : 0);
    m->high = vip || m->amount >= o->high_threshold;
    if (lg_rng_unit(r) < o->invalid_share) {
        m->invalid = (enum lg_mix_invalid)(1 + lg_rng_below(r, LG_MIX_NKINDS - 1));
        m->coupon = false; /* an invalid order must not look like a coupon use */
        m->amount = m->unit_price * m->qty;
    }
}

const char *lg_mix_invalid_field(enum lg_mix_invalid k)
{
    switch (k) {
    case LG_MIX_VALID:
    case LG_MIX_NKINDS:
        return "";
    case LG_MIX_QTY_ZERO:
    case LG_MIX_QTY_OVER:
        return "qty";
    case LG_MIX_PRICE_ZERO:
        return "unit_price";
    case LG_MIX_AMOUNT_WRONG:
        return "amount";
    case LG_MIX_CURRENCY:
        return "currency";
    case LG_MIX_PAYMENT:
        return "payment_method";
    case LG_MIX_SKU_ID:
        return "sku_id";
    case LG_MIX_PHONE:
        return "address.phone";
    case LG_MIX_NAME_LONG:
        return "address.name";
    case LG_MIX_DETAIL_EMPTY:
        return "address.detail";
    case LG_MIX_POSTAL:
        return "address.postal_code";
    case LG_MIX_CONTROL_CHAR:
        return "address.city";
    case LG_MIX_ROOM:
        return "room_id";
    }
    return "";
}

static const char *const SURNAMES[] = {"张", "王", "李", "赵", "陈", "刘", "杨", "黄"};
static const char *const PAYMENTS[] = {"alipay", "wechat_pay", "card", "cod"};

int lg_mix_write_submit(const struct lg_bench_opts *o, const struct lg_mix_order *m,
                        const char *client_order_id, const char *req, unsigned user_seq, char *out,
                        size_t outsz)
{
    char room[96], sku[32];
    lg_mix_room_id(o, m->room, room, sizeof(room));
    lg_mix_sku_id(m->sku, o, sku, sizeof(sku));
    enum lg_mix_invalid k = m->invalid;
    long long qty = k == LG_MIX_QTY_ZERO ? 0 : k == LG_MIX_QTY_OVER ? 1000 : m->qty;
    long long price = k == LG_MIX_PRICE_ZERO ? 0 : m->unit_price;
    long long amount = k == LG_MIX_AMOUNT_WRONG ? m->amount + 1 : m->amount;
    /* 51 characters: one over the name limit. */
    char name[256];
    if (k == LG_MIX_NAME_LONG) {
        size_t n = 0;
        for (int i = 0; i < 51; i++)
            n += (size_t)snprintf(name + n, sizeof(name) - n, "%s", "名");
    } else {
        snprintf(name, sizeof(name), "%s%u", SURNAMES[user_seq % 8], user_seq % 1000);
    }
    char phone[16];
    if (k == LG_MIX_PHONE)
        snprintf(phone, sizeof(phone), "12345");
    else
        snprintf(phone, sizeof(phone), "13%09u", user_seq % 1000000000u);
    char coupon[48];
    snprintf(coupon, sizeof(coupon), m->coupon ? "\"" LG_MIX_COUPON_ID "\"" : "null");
    int n = snprintf(
        out, outsz,
        "{\"type\":\"order.submit\",\"req\":\"%s\",\"client_order_id\":\"%s\","
        "\"room_id\":\"%s%s\",\"sku_id\":\"%s\",\"qty\":%lld,\"unit_price\":%lld,"
        "\"amount\":%lld,\"currency\":\"%s\",\"payment_method\":\"%s\",\"coupon_id\":%s,"
        "\"address\":{\"name\":\"%s\",\"phone\":\"%s\",\"province\":\"浙江省\","
        "\"city\":\"%s\",\"district\":\"西湖区\",\"detail\":\"%s\","
        "\"postal_code\":\"%s\"}}",
        req, client_order_id, room, k == LG_MIX_ROOM ? "-other" : "",
        k == LG_MIX_SKU_ID ? "bad sku!" : sku, qty, price, amount,
        k == LG_MIX_CURRENCY ? "USD" : "CNY",
        k == LG_MIX_PAYMENT ? "bitcoin" : PAYMENTS[user_seq % 4], coupon, name, phone,
        k == LG_MIX_CONTROL_CHAR ? "杭州\\u0007市" : "杭州市",
        k == LG_MIX_DETAIL_EMPTY ? "" : "文三路 1 号", k == LG_MIX_POSTAL ? "31000" : "310000");
    return (n < 0 || (size_t)n >= outsz) ? -1 : n;
}

void lg_mix_put(struct lg_mix_buf *b, const char *s, size_t len)
{
    if (b->full || b->cap - b->n < len + 1) {
        b->full = true;
        return;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = '\0';
}

void lg_mix_put_str(struct lg_mix_buf *b, const char *s)
{
    lg_mix_put(b, s, strlen(s));
}

void lg_mix_put_int(struct lg_mix_buf *b, long long v)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[--i] = '-';
    lg_mix_put(b, tmp + i, sizeof(tmp) - i);
}

/* n as exactly `width` digits, zero-padded (n < 10^width). */
static void put_padded(struct lg_mix_buf *b, unsigned n, int width)
{
    char tmp[16];
    for (int i = width - 1; i >= 0; i--) {
        tmp[i] = (char)('0' + n % 10);
        n /= 10;
    }
    lg_mix_put(b, tmp, (size_t)width);
}

int lg_mix_write_valid(const struct lg_bench_opts *o, const struct lg_mix_order *m,
                       const char *client_order_id, const char *req, unsigned user_seq, char *out,
                       size_t outsz)
{
    if (m->invalid != LG_MIX_VALID || outsz == 0)
        return -1;
    struct lg_mix_buf b = {out, 0, outsz, false};
    lg_mix_put_str(&b, "{\"type\":\"order.submit\",\"req\":\"");
    lg_mix_put_str(&b, req);
    lg_mix_put_str(&b, "\",\"client_order_id\":\"");
    lg_mix_put_str(&b, client_order_id);
    lg_mix_put_str(&b, "\",\"room_id\":\"bench-");
    lg_mix_put_str(&b, o->run_id);
    lg_mix_put_str(&b, "-r");
    lg_mix_put_int(&b, m->room);
    lg_mix_put_str(&b, "\",\"sku_id\":\"");
    if (m->sku >= o->skus) {
        lg_mix_put_str(&b, "sku-high");
    } else {
        lg_mix_put_str(&b, "sku-");
        lg_mix_put_int(&b, m->sku);
    }
    lg_mix_put_str(&b, "\",\"qty\":");
    lg_mix_put_int(&b, m->qty);
    lg_mix_put_str(&b, ",\"unit_price\":");
    lg_mix_put_int(&b, m->unit_price);
    lg_mix_put_str(&b, ",\"amount\":");
    lg_mix_put_int(&b, m->amount);
    lg_mix_put_str(&b, ",\"currency\":\"CNY\",\"payment_method\":\"");
    lg_mix_put_str(&b, PAYMENTS[user_seq % 4]);
    lg_mix_put_str(&b, "\",\"coupon_id\":");
    if (m->coupon)
        lg_mix_put_str(&b, "\"" LG_MIX_COUPON_ID "\"");
    else
        lg_mix_put_str(&b, "null");
    lg_mix_put_str(&b, ",\"address\":{\"name\":\"");
    lg_mix_put_str(&b, SURNAMES[user_seq % 8]);
    lg_mix_put_int(&b, user_seq % 1000);
    lg_mix_put_str(&b, "\",\"phone\":\"13");
    put_padded(&b, user_seq % 1000000000u, 9);
    lg_mix_put_str(&b, "\",\"province\":\"浙江省\",\"city\":\"杭州市\",\"district\":\"西湖区\","
                       "\"detail\":\"文三路 1 号\",\"postal_code\":\"310000\"}}");
    return b.full ? -1 : (int)b.n;
}
