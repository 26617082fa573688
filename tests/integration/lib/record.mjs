// An order record as one object, its packed fixed fields ("d",
// queue/order_record.h) spread into fields of their own, so a test reads
// every field the same way whichever layout the record was written in.
import { connect } from '../../../scripts/lib/resp.mjs';
import { expandRecord, packOrder } from '../../../scripts/lib/order-record.mjs';

export async function readRecord(redis, key) {
  const conn = await connect(redis.port);
  try {
    const [flat] = await conn.send([['HGETALL', key]]);
    if (flat instanceof Error) throw flat;
    const hash = {};
    for (let i = 0; i + 1 < flat.length; i += 2) hash[flat[i]] = flat[i + 1];
    return expandRecord(hash);
  } finally {
    conn.close();
  }
}

// Sets fixed fields of the record at key (changes: name -> value) inside
// its d, as a record written with those values would hold them.
export async function rewriteFixed(redis, key, changes) {
  const rec = await readRecord(redis, key);
  const conn = await connect(redis.port);
  try {
    const [r] = await conn.send([['HSET', key, 'd', packOrder({ ...rec, ...changes })]]);
    if (r instanceof Error) throw r;
  } finally {
    conn.close();
  }
}
