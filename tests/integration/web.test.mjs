// The gateway serving the web pages: / and /dashboard and their files under
// /static/ without a token, with their Content-Type and Cache-Control;
// JSON 404s for files that are not there or may not be named; the web root
// from LIVEGATE_WEB_ROOT. Raw sockets send paths fetch() would normalise.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRedis, startGateway, stopAll } from './lib/system.mjs';

const webDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../web');
let redis, gw;
const dirs = [];

before(async () => {
  redis = await startRedis();
  gw = await startGateway({ redis });
});
after(async () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  await stopAll();
});

// Sends one request line as given and returns { status, headers, body }.
function rawGet(port, target, method = 'GET', headers = '') {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = '';
    sock.setTimeout(5000, () => { sock.destroy(); reject(new Error(`no answer for ${target}`)); });
    sock.on('connect', () => sock.write(`${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${headers}\r\n`));
    sock.on('data', (d) => { data += d.toString('latin1'); });
    sock.on('error', reject);
    sock.on('end', () => {
      const [head, ...rest] = data.split('\r\n\r\n');
      const lines = head.split('\r\n');
      const headers = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({ status: Number(lines[0].split(' ')[1]), headers, body: rest.join('\r\n\r\n') });
    });
  });
}

test('the two pages and their files load without a token, with type and no-cache', async () => {
  const cases = [
    ['/', 'text/html; charset=utf-8', 'index.html'],
    ['/dashboard', 'text/html; charset=utf-8', 'dashboard.html'],
    ['/static/live.js', 'text/javascript; charset=utf-8', 'static/live.js'],
    ['/static/dashboard.js', 'text/javascript; charset=utf-8', 'static/dashboard.js'],
    ['/static/style.css', 'text/css; charset=utf-8', 'static/style.css'],
    ['/static/vendor/uPlot.iife.min.js', 'text/javascript; charset=utf-8', 'node_modules/uplot/dist/uPlot.iife.min.js'],
    ['/static/vendor/uPlot.min.css', 'text/css; charset=utf-8', 'node_modules/uplot/dist/uPlot.min.css'],
  ];
  for (const [url, type, file] of cases) {
    const r = await gw.http('GET', url);
    assert.equal(r.status, 200, url);
    assert.equal(r.headers.get('content-type'), type, url);
    assert.equal(r.headers.get('cache-control'), 'no-cache', url);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff', url);
    assert.equal(r.text, readFileSync(path.join(webDir, file), 'utf8'), url);
  }
  const q = await gw.http('GET', '/?token=x');
  assert.equal(q.status, 200);
});

test('unknown files are a JSON 404; the API keeps its routes', async () => {
  for (const url of ['/static/nope.js', '/static/vendor/uPlot.esm.js', '/static/vendor/../../package.json',
    '/static/.hidden.css', '/static/live.txt', '/static/']) {
    const r = await rawGet(gw.port, url);
    assert.equal(r.status, 404, url);
    assert.match(r.headers['content-type'], /^application\/json/, url);
    assert.equal(JSON.parse(r.body).error.code, 'NOT_FOUND', url);
  }
  assert.equal((await gw.http('GET', '/healthz')).status, 200);
  assert.equal((await gw.http('GET', '/v1/rooms/r1/skus')).status, 401);
  assert.equal((await gw.http('GET', '/index.html')).status, 404);
});

test('traversal out of the web root is refused, encoded or not', async () => {
  const secret = 'root:x:0:0';
  for (const url of ['/static/../../../../etc/passwd', '/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
    '/static/..%2f..%2f..%2fetc%2fpasswd', '/static/%252e%252e/etc/passwd', '/static/..\\..\\etc\\passwd',
    '/static/vendor/..%2f..%2fpackage.json', '/static/%00.js', '/%2e%2e/%2e%2e/etc/passwd']) {
    const r = await rawGet(gw.port, url);
    assert.ok(r.status >= 400 && r.status < 500, `${url}: ${r.status}`);
    assert.ok(!r.body.includes(secret), url);
    assert.ok(!r.body.includes('"dependencies"'), url);
  }
});

test('pages are read with GET only', async () => {
  for (const method of ['PUT', 'POST', 'DELETE']) {
    const r = await gw.http(method, '/dashboard');
    assert.equal(r.status, 405, method);
    assert.equal(r.json.error.code, 'METHOD_NOT_ALLOWED');
  }
});

test('an empty body (Content-Length: 0) is answered, on a page or an API path', async () => {
  // lws hands the empty body over as a NULL chunk of length 0; the
  // sanitizer build stops the gateway if that ever reaches memcpy.
  for (const [method, url, status] of [['POST', '/dashboard', 405], ['PUT', '/', 405],
    ['POST', '/v1/rooms/r1', 405], ['PUT', '/v1/rooms/r1', 401], ['POST', '/healthz', 405]]) {
    const r = await rawGet(gw.port, url, method, 'Content-Length: 0\r\n');
    assert.equal(r.status, status, `${method} ${url}`);
  }
  assert.equal((await gw.http('GET', '/healthz')).status, 200);
  assert.equal(gw.proc.exited, false);
});

test('LIVEGATE_WEB_ROOT names the folder the pages come from', async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'lg-web-'));
  dirs.push(root);
  mkdirSync(path.join(root, 'static'));
  writeFileSync(path.join(root, 'index.html'), '<p>其他的直播间</p>');
  writeFileSync(path.join(root, 'static', 'app.js'), 'console.log(1);');
  mkdirSync(path.join(root, 'static', 'dir.js')); // a folder is no file
  const other = await startGateway({ redis, env: { LIVEGATE_WEB_ROOT: `${root}/` } });
  const page = await other.http('GET', '/');
  assert.equal(page.status, 200);
  assert.equal(page.text, '<p>其他的直播间</p>');
  assert.equal((await other.http('GET', '/static/app.js')).text, 'console.log(1);');
  for (const url of ['/dashboard', '/static/dir.js', '/static/vendor/uPlot.min.css']) {
    const r = await other.http('GET', url);
    assert.equal(r.status, 404, url);
    assert.equal(r.json.error.code, 'NOT_FOUND', url);
  }
  await other.stop();

  const missing = await startGateway({ redis, env: { LIVEGATE_WEB_ROOT: path.join(root, 'nowhere') } });
  const r = await missing.http('GET', '/');
  assert.equal(r.status, 404);
  assert.equal(r.json.error.code, 'NOT_FOUND');
  await missing.stop();
});

test('a web root longer than the limit is refused at start', async () => {
  const bad = await startGateway({ redis, wait: false, env: { LIVEGATE_WEB_ROOT: `/${'w'.repeat(512)}` } });
  bad.expectFailure();
  const { code } = await bad.proc.done;
  assert.notEqual(code, 0);
  assert.ok(bad.logs.some((l) => l.includes('LIVEGATE_WEB_ROOT')), bad.logs.join('\n'));
  const ok = await startGateway({ redis, env: { LIVEGATE_WEB_ROOT: `/${'w'.repeat(511)}` } });
  assert.equal((await ok.http('GET', '/')).status, 404);
  await ok.stop();
});
