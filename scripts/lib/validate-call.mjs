// validate.lua's keys and arguments, in the layout validator/decide.c
// sends (see the script's header), for tests and benchmarks that call the
// script themselves: one builder, so a change of the layout is made once
// outside the validator.

// The record's result fields the validator asks for, in the order of
// queue/result_layout.h.
export const RESULT_FIELDS = ['status', 'code', 'field', 'message', 'amount', 'confirmed_at_ms',
  'pay_deadline_ms', 'client_order_id', 'req', 'updated_at_ms', 'decided_at_ms',
  'accepted_at_ms', 'watchers'];

// { keys, args } deciding `orders` ({ oid, user }) of `room`, declaring
// `skus` and `coupons`. `payDue` adds the payment due index; `counts` and
// `extraKeys` let a test break the layout on purpose.
export function validateCall(room, orders, { skus, coupons = [], payDue = true, margin = 1000,
  feed = '', counts = [orders.length, skus.length, coupons.length], extraKeys = [] }) {
  const t = `lg:{${room}}`;
  const keys = [`${t}:room`, `${t}:feed:watched`, `${t}:load`];
  for (const o of orders) keys.push(`${t}:order:${o.oid}`, `${t}:live:${o.user ?? 'u1'}`);
  keys.push(...skus.map((s) => `${t}:sku:${s}`));
  for (const c of coupons) keys.push(`${t}:coupon:${c}`, `${t}:coupon_users:${c}`);
  if (payDue) keys.push(`${t}:paydue`);
  keys.push(...extraKeys);
  const args = ['10000', String(margin), '900000', '0'.repeat(orders.length), feed, room,
    String(RESULT_FIELDS.length), ...RESULT_FIELDS, ...counts.map(String), ...skus, ...coupons];
  return { keys, args };
}
