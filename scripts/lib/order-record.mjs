// The order record's fixed fields (queue/lua/lib/order_record.lua, the
// same list as queue/order_record.h), for tests and benchmarks that write
// or read a record's d by hand.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { luaDir } from './lua-source.mjs';

// ORDER_FIXED as order_record.lua lists it.
function fixedFields() {
  const lib = readFileSync(path.join(luaDir, 'lib/order_record.lua'), 'utf8');
  const list = lib.match(/local ORDER_FIXED = \{([^}]*)\}/);
  if (!list) throw new Error('order_record.lua: no ORDER_FIXED list');
  return [...list[1].matchAll(/'([a-z_]+)'/g)].map((m) => m[1]);
}
export const ORDER_FIXED = fixedFields();

// The record's "d" for the fixed fields in obj (absent ones empty).
export function packOrder(obj) {
  return ORDER_FIXED.map((name) => String(obj[name] ?? '')).join('\0');
}

// A record's hash fields (an object) with "d" spread into the fixed fields.
export function expandRecord(hash) {
  if (hash.d === undefined) return hash;
  const out = { ...hash };
  delete out.d;
  const values = hash.d.split('\0');
  if (values.length !== ORDER_FIXED.length) throw new Error(`d holds ${values.length} values`);
  ORDER_FIXED.forEach((name, i) => { out[name] = values[i]; });
  return out;
}
