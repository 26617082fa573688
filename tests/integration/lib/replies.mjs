// Reply-stream entries as queue/lua/reply.lua takes them: a result's values
// packed into one string (queue/result_layout.h: each value's length, ':',
// its bytes and a NUL), in the order of enum lg_reply_field, read from the
// C sources so a test cannot drift from them. Also a bare RESP connection,
// since redis-cli's arguments cannot hold the NULs.
import net from 'node:net';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const queue = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../../queue');

function replyFields() {
  const header = readFileSync(path.join(queue, 'result_layout.h'), 'utf8');
  const source = readFileSync(path.join(queue, 'result_layout.c'), 'utf8');
  const order = header.match(/enum lg_reply_field \{([^}]*)\}/)[1].match(/LG_REPLY_\w+/g)
    .filter((e) => e !== 'LG_REPLY_NFIELDS');
  const names = Object.fromEntries([...source.matchAll(/\[(LG_REPLY_\w+)\] = "([^"]+)"/g)].map((m) => [m[1], m[2]]));
  return order.map((e) => names[e]);
}

export const REPLY_FIELDS = replyFields();
export const REPLY_SCRIPT = readFileSync(path.join(queue, 'lua/reply.lua'), 'utf8');

// results: objects by field name; a field left out is "".
export function packResults(results) {
  return results.map((r) => REPLY_FIELDS.map((f) => {
    const v = String(r[f] ?? '');
    return `${Buffer.byteLength(v)}:${v}\0`;
  }).join('')).join('');
}

// One reply.lua call (EVALSHA sha, or EVAL of the script without one).
export function replyCall(key, results, { sha, maxlen = '100000', ttlMs = '3600000' } = {}) {
  const head = sha ? ['EVALSHA', sha] : ['EVAL', REPLY_SCRIPT];
  return [...head, '1', key, maxlen, ttlMs, String(results.length), packResults(results)];
}

// Sends commands over one bare RESP connection, pipelined, and resolves
// with the first line of each reply (every command here answers one line).
export function pipeline(port, commands) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const replies = [];
    let buf = '';
    sock.on('error', reject);
    sock.on('data', (d) => {
      buf += d.toString();
      const lines = buf.split('\r\n');
      buf = lines.pop();
      replies.push(...lines);
      if (replies.length >= commands.length) {
        sock.destroy();
        const errors = replies.filter((l) => l.startsWith('-'));
        if (errors.length) reject(new Error(`${errors.length} error replies: ${errors[0]}`));
        else resolve(replies);
      }
    });
    const resp = (args) => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join('')}`;
    sock.write(commands.map(resp).join(''));
  });
}
