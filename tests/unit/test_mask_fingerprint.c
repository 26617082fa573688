/* Unit tests of masking (what the back office may see) and of the body
 * fingerprint (what makes a resubmit a duplicate or a conflict). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "rules/fingerprint.h"
#include "rules/mask.h"

static void names(void **state)
{
    (void)state;
    char out[64];
    lg_mask_name("张三", out, sizeof(out));
    assert_string_equal(out, "张*");
    lg_mask_name("李小龙", out, sizeof(out));
    assert_string_equal(out, "李**");
    lg_mask_name("张", out, sizeof(out));
    assert_string_equal(out, "*");
    lg_mask_name("Alice", out, sizeof(out));
    assert_string_equal(out, "A****");
    lg_mask_name("Maximilian Alexander", out, sizeof(out));
    assert_string_equal(out, "M********");
    lg_mask_name("", out, sizeof(out));
    assert_string_equal(out, "");
    lg_mask_name("张三", out, 2); /* too small for the first character: nothing, safely */
    assert_int_equal(strlen(out), 0);
}

static void phones(void **state)
{
    (void)state;
    char out[16];
    lg_mask_phone("13800138000", out, sizeof(out));
    assert_string_equal(out, "138****8000");
    lg_mask_phone("1380013800", out, sizeof(out));
    assert_string_equal(out, "****");
    lg_mask_phone("1380013800a", out, sizeof(out));
    assert_string_equal(out, "****");
    lg_mask_phone("13800138000", out, 5);
    assert_string_equal(out, "138*");
}

static struct lg_order base(void)
{
    struct lg_order o;
    memset(&o, 0, sizeof(o));
    strcpy(o.client_order_id, "c-1");
    strcpy(o.room_id, "r1");
    strcpy(o.sku_id, "sku-9");
    o.qty = 2;
    o.unit_price = 19900;
    o.amount = 39800;
    strcpy(o.currency, "CNY");
    strcpy(o.payment_method, "alipay");
    strcpy(o.address.name, "张三");
    strcpy(o.address.phone, "13800138000");
    strcpy(o.address.province, "浙江省");
    strcpy(o.address.city, "杭州市");
    strcpy(o.address.detail, "文三路 1 号");
    return o;
}

static struct lg_fingerprinter *fingerprinter_of(unsigned char byte)
{
    unsigned char key[LG_DATA_KEY_LEN];
    memset(key, byte, sizeof(key));
    struct lg_fingerprinter *f = lg_fingerprinter_new(key);
    assert_non_null(f);
    return f;
}

static void fp_with(struct lg_fingerprinter *f, const struct lg_order *o, char *out)
{
    assert_true(lg_fingerprint_order(f, o, out));
    assert_int_equal(strlen(out), LG_FINGERPRINT_LEN);
    assert_memory_equal(out, "k1", 2);
}

/* With the data key of 32 bytes of 7. */
static void fp(const struct lg_order *o, char *out)
{
    struct lg_fingerprinter *f = fingerprinter_of(7);
    fp_with(f, o, out);
    lg_fingerprinter_free(f);
}

static void same_body_same_fingerprint(void **state)
{
    (void)state;
    char a[LG_FINGERPRINT_LEN + 1], b[LG_FINGERPRINT_LEN + 1];
    struct lg_order o1 = base(), o2 = base();
    fp(&o1, a);
    fp(&o2, b);
    assert_string_equal(a, b);
    strcpy(o2.client_order_id, "c-2"); /* the key, not the body */
    fp(&o2, b);
    assert_string_equal(a, b);
}

static void every_field_changes_it(void **state)
{
    (void)state;
    char ref[LG_FINGERPRINT_LEN + 1], got[LG_FINGERPRINT_LEN + 1];
    struct lg_order o = base();
    fp(&o, ref);
    struct lg_order v[16];
    int n = 0;
    v[n] = base(), strcpy(v[n++].room_id, "r2");
    v[n] = base(), strcpy(v[n++].sku_id, "sku-8");
    v[n] = base(), v[n++].qty = 3;
    v[n] = base(), v[n++].unit_price = 19901;
    v[n] = base(), v[n++].amount = 39801;
    v[n] = base(), strcpy(v[n++].payment_method, "card");
    v[n] = base(), v[n].has_coupon = true, strcpy(v[n++].coupon_id, "cp");
    v[n] = base(), strcpy(v[n++].address.name, "张四");
    v[n] = base(), strcpy(v[n++].address.phone, "13800138001");
    v[n] = base(), strcpy(v[n++].address.province, "江苏省");
    v[n] = base(), strcpy(v[n++].address.city, "苏州市");
    v[n] = base(), strcpy(v[n++].address.detail, "文三路 2 号");
    v[n] = base(), v[n++].address.has_district = true; /* "" present vs absent */
    v[n] = base(), v[n].address.has_postal_code = true,
    strcpy(v[n++].address.postal_code, "310000");
    for (int i = 0; i < n; i++) {
        fp(&v[i], got);
        if (strcmp(ref, got) == 0)
            fail_msg("variant %d has the same fingerprint", i);
    }
}

/* The value itself is pinned: idempotency keys stored by a running system
 * hold it, so a change of how it is computed would turn every resubmit
 * across an upgrade into IDEMPOTENCY_CONFLICT. The expected values were
 * computed apart from this code, with Python's hmac and hashlib: HKDF-SHA256
 * (RFC 5869, no salt) of the data key with info "livegate order fingerprint
 * v1", then HMAC-SHA256 of the same byte stream whose plain SHA-256 was
 * the fingerprint before (9a60331e183822f0545fecd70ce0aa5e for this order). */
static void the_value_is_stable(void **state)
{
    (void)state;
    char a[LG_FINGERPRINT_LEN + 1];
    struct lg_order o = base();
    fp(&o, a);
    assert_string_equal(a, "k145fd81e6199f98fa4385a5d34d979e00");
    o.has_coupon = true;
    strcpy(o.coupon_id, "cp-1");
    o.address.has_district = true;
    strcpy(o.address.district, "西湖区");
    o.address.has_postal_code = true;
    strcpy(o.address.postal_code, "310000");
    fp(&o, a);
    assert_string_equal(a, "k18fabc2821f9650640502652b961b7763");
}

/* Without the data key the fingerprint cannot be recomputed from a guess:
 * another key gives another value, and the plain digest is not it. */
static void the_value_depends_on_the_data_key(void **state)
{
    (void)state;
    char a[LG_FINGERPRINT_LEN + 1], b[LG_FINGERPRINT_LEN + 1];
    struct lg_order o = base();
    struct lg_fingerprinter *f7 = fingerprinter_of(7), *f8 = fingerprinter_of(8);
    fp_with(f7, &o, a);
    fp_with(f8, &o, b);
    assert_string_equal(b, "k1c56bc1c940183a9caa3ff6a7ebc1134c");
    assert_string_not_equal(a, b);
    assert_null(strstr(a, "9a60331e183822f0545fecd70ce0aa5e"));
    /* The context is reused: the same order again gives the same value. */
    fp_with(f7, &o, b);
    assert_string_equal(a, b);
    lg_fingerprinter_free(f7);
    lg_fingerprinter_free(f8);
}

/* After a rotation (key 8 current, key 7 older) the fingerprint is still
 * key 7's, so a retry across the rotation is a duplicate; with no older
 * key it is the current key's. */
static void the_oldest_key_keys_it_across_a_rotation(void **state)
{
    (void)state;
    char before[LG_FINGERPRINT_LEN + 1], after[LG_FINGERPRINT_LEN + 1];
    struct lg_order o = base();
    struct lg_fingerprinter *f7 = fingerprinter_of(7);
    fp_with(f7, &o, before);
    lg_fingerprinter_free(f7);
    unsigned char old[LG_DATA_KEY_LEN];
    memset(old, 7, sizeof(old));
    assert_int_equal(lg_crypto_add_old_key(old), 0);
    struct lg_fingerprinter *rotated = fingerprinter_of(8);
    fp_with(rotated, &o, after);
    lg_fingerprinter_free(rotated);
    assert_string_equal(after, before);
    lg_crypto_forget_old_keys();
    struct lg_fingerprinter *f8 = fingerprinter_of(8);
    fp_with(f8, &o, after);
    lg_fingerprinter_free(f8);
    assert_string_equal(after, "k1c56bc1c940183a9caa3ff6a7ebc1134c");
}

static void field_boundaries_are_unambiguous(void **state)
{
    (void)state;
    char a[LG_FINGERPRINT_LEN + 1], b[LG_FINGERPRINT_LEN + 1];
    struct lg_order o1 = base(), o2 = base();
    strcpy(o1.address.province, "ab");
    strcpy(o1.address.city, "c");
    strcpy(o2.address.province, "a");
    strcpy(o2.address.city, "bc");
    fp(&o1, a);
    fp(&o2, b);
    assert_string_not_equal(a, b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names),
        cmocka_unit_test(phones),
        cmocka_unit_test(same_body_same_fingerprint),
        cmocka_unit_test(the_value_depends_on_the_data_key),
        cmocka_unit_test(the_oldest_key_keys_it_across_a_rotation),
        cmocka_unit_test(every_field_changes_it),
        cmocka_unit_test(field_boundaries_are_unambiguous),
        cmocka_unit_test(the_value_is_stable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
