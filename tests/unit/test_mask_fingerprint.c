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

static void fp(const struct lg_order *o, char *out)
{
    lg_fingerprint_order(o, out);
    assert_int_equal(strlen(out), LG_FINGERPRINT_LEN);
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
 * across an upgrade into IDEMPOTENCY_CONFLICT. */
static void the_value_is_stable(void **state)
{
    (void)state;
    char a[LG_FINGERPRINT_LEN + 1];
    struct lg_order o = base();
    fp(&o, a);
    assert_string_equal(a, "9a60331e183822f0545fecd70ce0aa5e");
    o.has_coupon = true;
    strcpy(o.coupon_id, "cp-1");
    o.address.has_district = true;
    strcpy(o.address.district, "西湖区");
    o.address.has_postal_code = true;
    strcpy(o.address.postal_code, "310000");
    fp(&o, a);
    assert_string_equal(a, "c5183c6c31810df72bb8319fef3aef41");
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
        cmocka_unit_test(every_field_changes_it),
        cmocka_unit_test(field_boundaries_are_unambiguous),
        cmocka_unit_test(the_value_is_stable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
