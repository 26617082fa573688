// A bare RESP client for the scripts and tests that call Redis with values
// redis-cli cannot pass (its arguments cannot hold a NUL, and the order
// record's d is NUL-separated): replies parsed from a Buffer, commands
// pipelined. Integers come back as strings, errors as Error values.
import net from 'node:net';

export function connect(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const waiting = [];
    function parse(at) {
      if (at >= buf.length) return null;
      const end = buf.indexOf('\r\n', at);
      if (end < 0) return null;
      const type = String.fromCharCode(buf[at]), line = buf.toString('utf8', at + 1, end);
      if (type === '+' || type === '-' || type === ':') return { v: type === '-' ? new Error(line) : line, at: end + 2 };
      if (type === '$') {
        const n = Number(line);
        if (n < 0) return { v: null, at: end + 2 };
        if (buf.length < end + 2 + n + 2) return null;
        return { v: buf.toString('utf8', end + 2, end + 2 + n), at: end + 2 + n + 2 };
      }
      const n = Number(line), out = [];
      let p = end + 2;
      for (let i = 0; i < n; i++) {
        const r = parse(p);
        if (!r) return null;
        out.push(r.v);
        p = r.at;
      }
      return { v: n < 0 ? null : out, at: p };
    }
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const r = parse(0);
        if (!r) break;
        buf = buf.subarray(r.at);
        waiting.shift()(r.v);
      }
    });
    sock.on('error', reject);
    sock.on('connect', () => resolve({
      send(cmds) {
        const parts = [];
        for (const c of cmds) {
          parts.push(Buffer.from(`*${c.length}\r\n`));
          for (const a of c) {
            const b = Buffer.from(String(a));
            parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
          }
        }
        const replies = cmds.map(() => new Promise((r) => waiting.push(r)));
        sock.write(Buffer.concat(parts));
        return Promise.all(replies);
      },
      close: () => sock.destroy(),
    }));
  });
}

