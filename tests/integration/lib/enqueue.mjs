// Drives queue/lua/enqueue.lua directly with EVAL, in the layout
// gateway/features/intake.c sends, so a test can check the script's
// decisions against Redis state it set up by hand.
import { luaSource } from '../../../scripts/lib/lua-source.mjs';
import { packOrder } from '../../../scripts/lib/order-record.mjs';
import { connect } from '../../../scripts/lib/resp.mjs';

const script = luaSource('enqueue.lua');

// One order's arguments: the fingerprint, the record's fixed fields as one
// value (d), the order id, the entry's ids, the tier and the amount. `qty`
// units (one unless given) of SKU `sku` at `unitPrice` (the amount, unless
// a coupon takes off or qty is more than one).
export function orderArgs({ oid, user = 'u1', coid, fp = 'k1fp-1', amount = 19900, tier = '',
  sku = 'sku-1', coupon = '', unitPrice = amount, qty = 1 }, room = 'r1', gw = 'gw-test') {
  const d = packOrder({ order_id: oid, room_id: room, gw, user, client_order_id: coid,
    sku_id: sku, qty, unit_price: unitPrice, amount, currency: 'CNY', payment_method: 'alipay',
    coupon_id: coupon, tier, buyer: '张*', phone: '138****8000', pii: 'sealed', req: '' });
  return [fp, d, oid, `${oid}|${user}|${sku}|${coupon}`, tier, String(amount)];
}

// Runs one batch of room `room` on `redis`; returns one array per order.
// Admission and the user rate as `admit` says: the admitted wait, the
// stall, the user rate (0: off), the burst and the places the caller
// reserves when refused (0: none).
export async function runEnqueue(redis, room, orders, admit = {}) {
  const { wait = 5000, stall = 2000, rate = 0, burst = 20, reserve = 0 } = admit;
  const keys = [`lg:{${room}}:room`, `lg:{${room}}:q:high`, `lg:{${room}}:q:normal`,
    `lg:{${room}}:feed:watched`, `lg:{${room}}:load`];
  const args = ['86400', '604800', 'gw-test', room, '', String(wait), String(stall), String(rate),
    String(burst), String(reserve)];
  for (const o of orders) {
    keys.push(`lg:{${room}}:idem:${o.user ?? 'u1'}/${o.coid}`, `lg:{${room}}:order:${o.oid}`,
      `lg:{${room}}:rate:${o.user ?? 'u1'}`);
    args.push(...orderArgs(o, room));
  }
  // Over RESP, not redis-cli: d holds NULs, which no argument of a
  // process can.
  const conn = await connect(redis.port);
  try {
    const [reply] = await conn.send([['EVAL', script, String(keys.length), ...keys, ...args]]);
    if (reply instanceof Error) throw reply;
    return reply;
  } finally {
    conn.close();
  }
}
