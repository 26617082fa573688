// Drives queue/lua/enqueue.lua directly with EVAL, in the layout
// gateway/features/intake.c sends, so a test can check the script's
// decisions against Redis state it set up by hand.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const script = readFileSync(path.join(here, '../../../queue/lua/enqueue.lua'), 'utf8');

// The record values in the script's RECORD_FIELDS order.
export function orderArgs({ oid, user = 'u1', coid, fp = 'k1fp-1', amount = 19900, tier = '' }) {
  return [fp, oid, user, coid, 'sku-1', '1', String(amount), String(amount), 'CNY', 'alipay', '',
    tier, '张*', '138****8000', 'sealed', ''];
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
    args.push(...orderArgs(o));
  }
  const lines = (await redis.cli('EVAL', script, String(keys.length), ...keys, ...args)).split('\n');
  const out = [];
  for (let i = 0; i < lines.length;) {
    const n = { accepted: 4, duplicate: 4, busy: 7 }[lines[i]] ?? 2;
    out.push(lines.slice(i, i + n));
    i += n;
  }
  return out;
}
