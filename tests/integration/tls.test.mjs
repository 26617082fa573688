// TLS: with LIVEGATE_TLS_CERT and LIVEGATE_TLS_KEY set the gateway serves
// wss:// and https:// only, and refuses protocol versions below TLS 1.2.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { startRedis, startGateway, stopAll, WebSocket } from './lib/system.mjs';

let gw;
before(async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lg-tls-'));
  const cert = path.join(dir, 'cert.pem'), key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key,
    '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
  const redis = await startRedis();
  gw = await startGateway({ redis, wait: false, env: { LIVEGATE_TLS_CERT: cert, LIVEGATE_TLS_KEY: key } });
  for (let i = 0; i < 100; i++) {
    if ((await get('/healthz').catch(() => null))?.status === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('TLS gateway did not come up');
});
after(stopAll);

function get(p, opts = {}) {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port: gw.port, path: p, rejectUnauthorized: false, timeout: 5000, ...opts },
      (res) => { let body = ''; res.on('data', (d) => { body += d; }); res.on('end', () => resolve({ status: res.statusCode, body })); });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

test('https answers /healthz', async () => {
  const r = await get('/healthz');
  assert.equal(r.status, 200);
  assert.deepEqual(JSON.parse(r.body), { status: 'ok' });
});

test('wss authenticates', async () => {
  const ws = new WebSocket(`wss://127.0.0.1:${gw.port}/v1/ws`, { rejectUnauthorized: false });
  await new Promise((res, rej) => { ws.on('open', res); ws.on('error', rej); });
  ws.send(JSON.stringify({ type: 'auth', token: gw.token({ sub: 'u1', room: 'r1', role: 'viewer' }) }));
  const msg = await new Promise((res) => ws.on('message', (d) => res(JSON.parse(d))));
  assert.equal(msg.type, 'auth.ok');
  ws.close();
});

test('plain http is not served on a TLS port', async () => {
  const r = await fetch(`http://127.0.0.1:${gw.port}/healthz`, { signal: AbortSignal.timeout(3000) })
    .then((res) => res.status).catch(() => 'refused');
  assert.notEqual(r, 200);
});

function handshake(version) {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port: gw.port, rejectUnauthorized: false,
      minVersion: version, maxVersion: version, ciphers: 'DEFAULT@SECLEVEL=0' }, () => {
      const v = s.getProtocol();
      s.end();
      resolve(v);
    });
    s.on('error', () => resolve('refused'));
  });
}

test('TLS 1.2 and 1.3 are accepted, 1.1 and 1.0 are not', async () => {
  assert.equal(await handshake('TLSv1.2'), 'TLSv1.2');
  assert.equal(await handshake('TLSv1.3'), 'TLSv1.3');
  assert.equal(await handshake('TLSv1.1'), 'refused');
  assert.equal(await handshake('TLSv1'), 'refused');
});
