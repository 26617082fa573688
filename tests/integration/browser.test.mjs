// The two web pages in a real browser: Debian's Chromium, headless, driven
// by playwright-core, against the real gateway, validator and redis-server.
// (a) the live room shows the catalog, places an order and shows it
// confirmed, and a retry is the same order; (b) the back office shows that
// order in its live feed and non-zero figures within 3 s, and marking it
// paid there makes the live room show "paid"; (c) stock and the sold-out
// badge follow sku.update; (d) the live room comes back by itself after the
// gateway restarts (close 1001); (e) an admin watching every room ("*")
// sees the orders with their room; (h) the back office shows BUSY and
// RATE_LIMITED per second and the queue's predicted wait and drain rate;
// (i) the back office shows the room's payment timeouts; (j) the quantity
// field is capped by the SKU's limit_per_user.
// Both pages speak to the gateway through the client package (clients/js):
// every page records which script opened each WebSocket and sent each
// frame, and the tests check that it was /static/vendor/livegate-client.js.
// Screenshots of both pages go to tests/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startRedis, startGateway, startValidator, stopAll, setupRoom } from './lib/system.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const artifacts = path.join(here, '../artifacts');
const CHROMIUM = process.env.LIVEGATE_CHROMIUM ?? '/usr/bin/chromium';
const ROOM = 'live-1';

let redis, gw, browser, profileDir, base, viewerToken, operatorToken, admin;
const pageErrors = [];

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  redis = await startRedis();
  gw = await startGateway({ redis });
  await startValidator({ redis });
  await setupRoom(gw, ROOM, {
    threshold: 100000,
    skus: {
      'sku-tea': { name: '西湖龙井 Dragon Well tea', price: 19900, stock: 100, limit_per_user: 5, on_sale: true },
      'sku-jade': { name: '和田玉手镯 Jade bracelet', price: 128000, stock: 0, limit_per_user: 1, on_sale: true },
      'sku-silk': { name: '杭州丝巾 Silk scarf', price: 8800, stock: 40, on_sale: true },
    },
    coupons: { SAVE10: { discount: 1000, min_amount: 10000, total: 100 } },
  });
  base = `http://127.0.0.1:${gw.port}`;
  viewerToken = gw.token({ sub: 'viewer-7', room: ROOM, role: 'viewer' });
  operatorToken = gw.token({ sub: 'op-1', room: ROOM, role: 'operator' });
  admin = gw.token({ sub: 'admin', room: '*', role: 'admin' });
  // A fresh profile each run; no network but the gateway on loopback.
  profileDir = mkdtempSync(path.join(os.tmpdir(), 'lg-chromium-'));
  browser = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1440, height: 900 },
    timeout: 60000,
  });
});

after(async () => {
  await browser?.close().catch(() => {});
  if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  await stopAll();
});

// Runs in each page before its scripts: wraps WebSocket so that each
// connection and each frame sent records the script that made it (the
// first http URL of the stack below the wrapper).
function recordSockets() {
  const Native = window.WebSocket;
  const caller = () => (new Error().stack ?? '').split('\n').slice(2)
    .map((l) => (l.match(/https?:\/\/[^\s)]+?\.js/) ?? [null])[0]).find(Boolean) ?? null;
  const log = { opened: [], sent: [] };
  window.__wsLog = log;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      log.opened.push({ url: String(args[0]), by: caller() });
    }

    send(data) {
      let type = null;
      try { type = JSON.parse(data).type; } catch {}
      log.sent.push({ type, by: caller(), data: String(data) });
      return super.send(data);
    }
  };
}

async function openPage(url) {
  const page = await browser.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${url}: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(`${url}: ${m.text()}`); });
  await page.addInitScript(recordSockets);
  await page.goto(url);
  return page;
}

const PACKAGE_URL = '/static/vendor/livegate-client.js';
const wsLog = (page) => page.evaluate(() => window.__wsLog);
// Every connection the page opened and every frame of the given types it
// sent came from the package's code.
async function assertThroughPackage(page, types) {
  const log = await wsLog(page);
  assert.ok(log.opened.length >= 1, 'the page opened a WebSocket');
  for (const o of log.opened) assert.equal(new URL(o.by).pathname, PACKAGE_URL, `WebSocket opened by ${o.by}`);
  for (const type of types) {
    const frames = log.sent.filter((f) => f.type === type);
    assert.ok(frames.length >= 1, `the page sent ${type}`);
    for (const f of frames) assert.equal(new URL(f.by).pathname, PACKAGE_URL, `${type} sent by ${f.by}`);
  }
  return log;
}

// Places one order of qty of the tea on the live room page and returns its
// client_order_id as the page shows it.
async function placeTeaOrder(live, qty) {
  await live.locator('.product[data-sku="sku-tea"] button.choose').click();
  await live.fill('#qty', String(qty));
  await live.click('#buy');
  const coid = (await live.locator('#last-coid').textContent()).trim();
  assert.match(coid, /^[A-Za-z0-9_.:-]{1,64}$/);
  return coid;
}

const orderRow = (live, coid) => live.locator(`.order[data-coid="${coid}"]`);

let live; // the live room page, shared by (a) and (b)

test('(a) the live room lists the products, places an order and shows it confirmed; a retry is the same order', async () => {
  const served = [];
  browser.on('response', (r) => { if (new URL(r.url()).pathname === PACKAGE_URL) served.push(r); });
  live = await openPage(`${base}/#token=${viewerToken}`);
  await live.locator('#conn-state[data-state="connected"]').waitFor({ timeout: 10000 });
  // The page loaded the package, as the repository has it.
  assert.ok(served.length >= 1, 'the page loaded the client package');
  assert.equal(served[0].status(), 200);
  assert.equal(await served[0].text(), readFileSync(new URL('../../clients/js/index.js', import.meta.url), 'utf8'));
  // and has no WebSocket code of its own
  for (const file of ['live.js', 'dashboard.js', 'common.js']) {
    const src = (await gw.http('GET', `/static/${file}`)).text;
    assert.doesNotMatch(src, /WebSocket\(|type: '(auth|order\.|monitor\.)/, `${file} leaves the protocol to the package`);
  }
  const tea = live.locator('.product[data-sku="sku-tea"]');
  await tea.waitFor();
  assert.equal(await live.locator('.product').count(), 3);
  assert.match(await tea.locator('.product-name').textContent(), /西湖龙井/);
  assert.equal((await tea.locator('.product-price').textContent()).trim(), '¥199.00');
  // stock 0: a sold-out badge and no way to choose it
  const jade = live.locator('.product[data-sku="sku-jade"]');
  assert.match(await jade.locator('.badge').textContent(), /Sold out/);
  assert.equal(await jade.locator('button.choose').isDisabled(), true);

  const coid = await placeTeaOrder(live, 2);
  await live.locator('#total').filter({ hasText: '¥398.00' }).waitFor();
  const row = orderRow(live, coid);
  await row.locator('.status[data-status="pending_payment"]').waitFor({ timeout: 15000 });
  await live.locator('.toast-success', { hasText: 'Order confirmed' }).first().waitFor();
  const orderId = await row.getAttribute('data-order-id');
  assert.match(orderId, /^[A-Za-z0-9_.:-]+$/);

  // The gateway holds exactly that order, as the page said.
  const stored = await gw.http('GET', `/v1/orders/${orderId}`, { token: admin });
  assert.equal(stored.status, 200, stored.text);
  assert.equal(stored.json.status, 'pending_payment');
  assert.equal(stored.json.client_order_id, coid);
  assert.equal(stored.json.qty, 2);
  assert.equal(stored.json.amount, 39800);
  assert.equal(stored.json.buyer, '张*');

  // The order went out through the package: auth and order.submit were
  // sent by its code, with the client_order_id the page shows.
  const log = await assertThroughPackage(live, ['auth', 'order.submit']);
  const submits = log.sent.filter((f) => f.type === 'order.submit');
  assert.equal(submits.length, 1);
  assert.equal(JSON.parse(submits[0].data).client_order_id, coid);

  // Retry resends the same client_order_id and body: a duplicate, no new order.
  const queued = await redis.cli('XLEN', `lg:{${ROOM}}:q:normal`);
  await live.click('#retry');
  await live.locator('.toast-info', { hasText: 'Already placed' }).first().waitFor({ timeout: 10000 });
  const resent = (await wsLog(live)).sent.filter((f) => f.type === 'order.submit');
  assert.equal(resent.length, 2);
  assert.equal(resent[1].data, resent[0].data, 'the very same frame');
  assert.equal(await redis.cli('XLEN', `lg:{${ROOM}}:q:normal`), queued);
  assert.equal(await live.locator('.order').count(), 1);
  assert.equal(await row.getAttribute('data-order-id'), orderId);
  await row.locator('.status[data-status="pending_payment"]').waitFor();

  await live.screenshot({ path: path.join(artifacts, 'live-room.png'), fullPage: true });
  assert.deepEqual(pageErrors, []);
});

test('(b) the back office shows the order and the figures within 3 s; marking it paid shows "paid" in the live room', async () => {
  assert.ok(live, 'needs the live room page of (a)');
  const dash = await openPage(`${base}/dashboard#token=${operatorToken}`);
  await dash.locator('#conn-state[data-state="connected"]').waitFor({ timeout: 10000 });
  // monitor.stats answers the subscribe at once
  await dash.locator('#kpi-connections').filter({ hasText: /^\d/ }).waitFor({ timeout: 5000 });

  const coid = await placeTeaOrder(live, 1);
  const placedAt = Date.now();
  const liveRow = orderRow(live, coid);
  await liveRow.locator('.status[data-status="pending_payment"]').waitFor({ timeout: 15000 });
  const orderId = await liveRow.getAttribute('data-order-id');

  const feedRow = dash.locator(`#feed tr[data-order-id="${orderId}"]`);
  await feedRow.waitFor({ timeout: Math.max(100, placedAt + 3000 - Date.now()) });
  await dash.waitForFunction(() => {
    const n = (id) => Number(document.getElementById(id).textContent.replace(/[^0-9.]/g, ''));
    return n('kpi-accepted') > 0 && n('kpi-confirmed') > 0 && n('kpi-connections') > 0
      && document.getElementById('kpi-gmv').textContent !== '¥0.00';
  }, null, { timeout: Math.max(100, placedAt + 3000 - Date.now()) });
  assert.ok(Date.now() - placedAt <= 3500, 'the order and the figures showed within 3 s');

  // Masked personal data only.
  const rowText = await feedRow.textContent();
  assert.match(rowText, /张\*/);
  assert.match(rowText, /138\*\*\*\*8000/);
  assert.doesNotMatch(rowText, /13800138000|张三|文三路/);
  await feedRow.locator('[data-status="pending_payment"], .status-pending_payment').first().waitFor({ timeout: 5000 });

  await feedRow.locator('button[data-action="paid"]').click();
  await dash.locator('.toast-success', { hasText: 'Order paid' }).first().waitFor({ timeout: 5000 });
  await dash.locator(`#feed tr[data-order-id="${orderId}"][data-status="paid"]`).waitFor({ timeout: 5000 });
  // the buyer's page hears order.status
  await liveRow.locator('.status[data-status="paid"]').waitFor({ timeout: 5000 });
  assert.match(await liveRow.locator('.status').textContent(), /paid/i);
  const stored = await gw.http('GET', `/v1/orders/${orderId}`, { token: admin });
  assert.equal(stored.json.status, 'paid');
  // The back office's subscribe and update went out through the package.
  await assertThroughPackage(dash, ['auth', 'monitor.subscribe', 'order.update']);

  // Paid cannot be delivered before it shipped: the page shows the refusal.
  const deliver = dash.locator(`#feed tr[data-order-id="${orderId}"] button[data-action="delivered"]`);
  assert.equal(await deliver.isDisabled(), true);

  await dash.waitForTimeout(1500); // a few more stats frames on the charts
  await dash.evaluate(() => window.scrollTo(0, 0));
  await dash.screenshot({ path: path.join(artifacts, 'dashboard.png'), fullPage: true });
  await live.screenshot({ path: path.join(artifacts, 'live-room-paid.png'), fullPage: true });
  assert.deepEqual(pageErrors, []);
});

test('(c) stock and the sold-out badge follow sku.update', async () => {
  assert.ok(live, 'needs the live room page of (a)');
  const silk = live.locator('.product[data-sku="sku-silk"]');
  assert.match(await silk.locator('.stock').textContent(), /^40 in stock/);
  // the operator changes the stock: every viewer hears it
  const put = await gw.http('PUT', `/v1/rooms/${ROOM}/skus/sku-silk`, {
    token: admin, body: { name: '杭州丝巾 Silk scarf', price: 8800, stock: 1, on_sale: true },
  });
  assert.equal(put.status, 200, put.text);
  // coalesced to at most one update a second per SKU: allow for a busy machine
  await silk.locator('.stock', { hasText: /^1 in stock/ }).waitFor({ timeout: 10000 });
  assert.match(await silk.locator('.badge').textContent(), /Only 1 left/);
  assert.match(await live.locator('#activity li').first().textContent(), /杭州丝巾 Silk scarf.*1 left/);

  // buying the last one sells it out, and the badge says so at once
  await silk.locator('button.choose').click();
  await live.fill('#qty', '1');
  await live.click('#buy');
  const coid = (await live.locator('#last-coid').textContent()).trim();
  await orderRow(live, coid).locator('.status[data-status="pending_payment"]').waitFor({ timeout: 15000 });
  await silk.locator('.badge', { hasText: 'Sold out' }).waitFor({ timeout: 10000 });
  await live.locator('#activity li.activity-out', { hasText: 'sold out' }).first().waitFor({ timeout: 10000 });
  assert.match(await silk.locator('.stock').textContent(), /^0 in stock/);
  assert.equal(await silk.locator('button.choose').isDisabled(), true);
  assert.equal(await live.locator('#buy').isDisabled(), true, 'a sold-out product cannot be bought');
  await live.screenshot({ path: path.join(artifacts, 'live-room-sold-out.png'), fullPage: true });
  assert.deepEqual(pageErrors, []);
});

test('(d) the live room reconnects by itself when the gateway restarts (close 1001)', async () => {
  assert.ok(live, 'needs the live room page of (a)');
  const port = gw.port;
  const stopped = await gw.stop(); // SIGTERM: the gateway closes its WebSockets with 1001
  assert.equal(stopped.code, 0);
  await live.locator('#conn-state:not([data-state="connected"])').waitFor({ timeout: 10000 });
  gw = await startGateway({ redis, secrets: gw.secrets, port });
  await live.locator('#conn-state[data-state="connected"]').waitFor({ timeout: 15000 });
  const codes = (await live.locator('#conn-state').getAttribute('data-close-codes')).split(',');
  assert.equal(codes[0], '1001', `close codes seen: ${codes}`);
  // and it still takes orders on the new connection
  const coid = await placeTeaOrder(live, 1);
  await orderRow(live, coid).locator('.status[data-status="pending_payment"]').waitFor({ timeout: 15000 });
  const log = await assertThroughPackage(live, ['auth', 'order.submit', 'order.query']);
  assert.ok(log.opened.length >= 2, 'the package opened the new connection');
  // While no gateway listened, attempts to reconnect fail: the browser logs
  // each one. Nothing else may have gone wrong.
  const others = pageErrors.filter((e) => !/WebSocket connection to .* failed/.test(e));
  assert.deepEqual(others, []);
});

test('(e) an admin watching every room sees the orders with their room', async () => {
  assert.ok(live, 'needs the live room page of (a)');
  const adminToken = gw.token({ sub: 'admin', room: '*', role: 'admin' });
  const dash = await openPage(`${base}/dashboard#token=${adminToken}&room=*`);
  await dash.locator('#conn-state[data-state="connected"]').waitFor({ timeout: 10000 });
  assert.equal((await dash.locator('#room-name').textContent()).trim(), 'All rooms');
  await dash.locator('#kpi-connections').filter({ hasText: /^\d/ }).waitFor({ timeout: 5000 });
  assert.equal(await dash.locator('#room-col').isVisible(), true);

  const coid = await placeTeaOrder(live, 1);
  const liveRow = orderRow(live, coid);
  await liveRow.locator('.status[data-status="pending_payment"]').waitFor({ timeout: 15000 });
  const orderId = await liveRow.getAttribute('data-order-id');
  const row = dash.locator(`#feed tr[data-order-id="${orderId}"]`);
  await row.waitFor({ timeout: 5000 });
  assert.equal((await row.locator('td').nth(1).textContent()).trim(), ROOM);
  // an admin may move any room's order
  await row.locator('[data-status="pending_payment"]').first().waitFor({ timeout: 5000 });
  await row.locator('button[data-action="cancelled"]').click();
  await dash.locator(`#feed tr[data-order-id="${orderId}"][data-status="cancelled"]`).waitFor({ timeout: 5000 });
  await liveRow.locator('.status[data-status="cancelled"]').waitFor({ timeout: 5000 });
  const others = pageErrors.filter((e) => !/WebSocket connection to .* failed/.test(e));
  assert.deepEqual(others, []);
});

test('(f) both pages take the token from a field, and say which token they need', async () => {
  const page = await openPage(`${base}/`);
  await page.locator('#token-panel').waitFor();
  assert.equal(await page.locator('#room').isVisible(), false);
  await page.fill('#token-input', operatorToken);
  await page.click('#token-form button[type="submit"]');
  await page.locator('#token-error', { hasText: 'needs a viewer token' }).waitFor();
  await page.fill('#token-input', viewerToken);
  await page.click('#token-form button[type="submit"]');
  await page.locator('#conn-state[data-state="connected"]').waitFor({ timeout: 10000 });
  await page.locator('.product[data-sku="sku-tea"]').waitFor();
  assert.match(page.url(), /#token=/, 'the token goes to the fragment, so a reload keeps it');

  const dash = await openPage(`${base}/dashboard`);
  await dash.locator('#token-panel').waitFor();
  await dash.fill('#token-input', viewerToken);
  await dash.click('#token-form button[type="submit"]');
  await dash.locator('#token-error', { hasText: 'needs an operator or admin token' }).waitFor();
  // a forged token gets past the page but not the gateway
  const forged = gw.token({ sub: 'op-1', room: ROOM, role: 'operator' }, { badSig: true });
  await dash.fill('#token-input', forged);
  await dash.click('#token-form button[type="submit"]');
  await dash.locator('#conn-state[data-state="unauthorized"]').waitFor({ timeout: 10000 });
  await dash.locator('#token-error', { hasText: 'refused the token' }).waitFor();
  await dash.fill('#token-input', operatorToken);
  await dash.click('#token-form button[type="submit"]');
  await dash.locator('#conn-state[data-state="connected"]').waitFor({ timeout: 10000 });
  await dash.locator('#kpi-connections').filter({ hasText: /^\d/ }).waitFor({ timeout: 5000 });
  const others = pageErrors.filter((e) => !/WebSocket connection to .* failed/.test(e));
  assert.deepEqual(others, []);
});

test('(g) a coupon takes its value off the total; a wrong value is the validator\'s INVALID_FIELD', async () => {
  const buyer = gw.token({ sub: 'viewer-coupon', room: ROOM, role: 'viewer' });
  const page = await openPage(`${base}/#token=${buyer}`);
  await page.locator('#conn-state[data-state="connected"]').waitFor({ timeout: 10000 });
  await page.locator('.product[data-sku="sku-tea"] button.choose').click();
  await page.fill('#qty', '1');
  await page.click('.coupon summary');
  await page.fill('#coupon', 'SAVE10');
  await page.fill('#coupon-value', '12.00'); // not the coupon's 10.00
  await page.locator('#total', { hasText: '¥187.00' }).waitFor();
  await page.click('#buy');
  let coid = (await page.locator('#last-coid').textContent()).trim();
  await orderRow(page, coid).locator('.status[data-status="rejected"]').waitFor({ timeout: 15000 });
  assert.match(await orderRow(page, coid).textContent(), /INVALID_FIELD/);
  await page.locator('.toast-error', { hasText: 'INVALID_FIELD' }).first().waitFor();

  await page.fill('#coupon-value', '10');
  await page.locator('#total', { hasText: '¥189.00' }).waitFor();
  await page.click('#buy');
  coid = (await page.locator('#last-coid').textContent()).trim();
  const row = orderRow(page, coid);
  await row.locator('.status[data-status="pending_payment"]').waitFor({ timeout: 15000 });
  const stored = await gw.http('GET', `/v1/orders/${await row.getAttribute('data-order-id')}`, { token: admin });
  assert.equal(stored.json.amount, 18900);
  assert.equal(stored.json.coupon_id, 'SAVE10');
  const others = pageErrors.filter((e) => !/WebSocket connection to .* failed/.test(e));
  assert.deepEqual(others, []);
});

test('(h) the back office shows BUSY and RATE_LIMITED per second, and the queue\'s predicted wait and drain rate', async () => {
  // A room of its own, so its made-up backlog holds up no other test's orders.
  const room = 'rush-1';
  const op = gw.token({ sub: 'op-rush', room, role: 'operator' });
  const dash = await openPage(`${base}/dashboard#token=${op}`);
  await dash.locator('#conn-state[data-state="connected"]').waitFor({ timeout: 10000 });
  await dash.locator('#kpi-connections').filter({ hasText: /^\d/ }).waitFor({ timeout: 5000 });
  await dash.locator('#kpi-wait', { hasText: 'wait unknown' }).waitFor({ timeout: 5000 });

  // 30 high and 570 normal undecided at 200 decisions/s: a normal order
  // waits 3 s, a high one 150 ms.
  await redis.cli('HSET', `lg:{${room}}:load`, 'high', '30', 'normal', '570', 'rate', '200');
  await dash.locator('#kpi-wait', { hasText: 'wait 3.00 s · high 150 ms · 200/s' }).waitFor({ timeout: 5000 });
  assert.equal((await dash.locator('#kpi-queue').textContent()).trim(), '30 / 570');

  // Refusals as the gateways hand them over (stats_flush.lua): 300 BUSY and
  // 40 RATE_LIMITED in one flush show up as one second's rates in that ratio.
  const flush = readFileSync(new URL('../../queue/lua/stats_flush.lua', import.meta.url), 'utf8');
  await dash.locator('#kpi-refused').filter({ hasText: /^0\.0$/ }).waitFor({ timeout: 5000 });
  await redis.cli('EVAL', flush, '3', `lg:{${room}}:stats`, `lg:{${room}}:stats:conns`,
    `lg:{${room}}:stats:lat:${Math.floor(Date.now() / 1000)}`,
    'gw-it', '', '60000', '90', '604800', '2', '0', '0', 'busy', '300', 'rate_limited', '40');
  const shown = await dash.waitForFunction(() => {
    const m = document.getElementById('kpi-refused-sub').textContent.match(/^BUSY ([\d,.]+) · RATE_LIMITED ([\d,.]+)$/);
    const n = (x) => Number(x.replace(/,/g, ''));
    return m && n(m[1]) > 0 ? [n(m[1]), n(m[2]), document.getElementById('kpi-refused').textContent] : null;
  }, null, { timeout: 5000 });
  const [busy, limited, total] = await shown.jsonValue();
  assert.ok(Math.abs(busy / limited - 300 / 40) < 0.5, `BUSY ${busy}/s, RATE_LIMITED ${limited}/s`);
  assert.ok(Math.abs(Number(total.replace(/,/g, '')) - (busy + limited)) <= 1, `total ${total}`);
  assert.equal(await dash.locator('#kpi-refused-card.warn').count(), 1, 'refusals are flagged');
  const legend = await dash.locator('#chart-rate .u-legend').textContent();
  assert.match(legend, /BUSY\/s/);
  assert.match(legend, /RATE_LIMITED\/s/);
  assert.match(await dash.locator('#chart-queue .u-legend').textContent(), /wait of a normal order/);
  const spark = await dash.locator('#spark-refused polyline').getAttribute('points');
  assert.ok(spark.split(' ').length >= 2, `a sparkline: ${spark}`);
  await dash.evaluate(() => window.scrollTo(0, 0));
  await dash.screenshot({ path: path.join(artifacts, 'dashboard-admission.png'), fullPage: true });

  // The next second refuses nothing: back to 0.
  await dash.locator('#kpi-refused').filter({ hasText: /^0\.0$/ }).waitFor({ timeout: 5000 });
  assert.equal(await dash.locator('#kpi-refused-card.warn').count(), 0);
  const others = pageErrors.filter((e) => !/WebSocket connection to .* failed/.test(e));
  assert.deepEqual(others, []);
});

test('(i) the back office shows the room\'s payment timeouts', async () => {
  const room = 'paytime-1';
  const op = gw.token({ sub: 'op-pay', room, role: 'operator' });
  const dash = await openPage(`${base}/dashboard#token=${op}`);
  await dash.locator('#conn-state[data-state="connected"]').waitFor({ timeout: 10000 });
  await dash.locator('#kpi-pay-timeouts').filter({ hasText: /^0$/ }).waitFor({ timeout: 5000 });
  // What pay_timeout.lua adds with its cancels (monitor.stats orders.pay_timeouts).
  await redis.cli('HINCRBY', `lg:{${room}}:stats`, 'pay_timeouts', '4');
  await dash.locator('#kpi-pay-timeouts').filter({ hasText: /^4$/ }).waitFor({ timeout: 5000 });
  const others = pageErrors.filter((e) => !/WebSocket connection to .* failed/.test(e));
  assert.deepEqual(others, []);
});

test('(j) the quantity field is capped by the SKU\'s limit_per_user, less what the viewer\'s orders hold', async () => {
  const buyer = gw.token({ sub: 'viewer-cap', room: ROOM, role: 'viewer' });
  const put = await gw.http('PUT', `/v1/rooms/${ROOM}/skus/sku-fan`, {
    token: admin, body: { name: '檀香扇 Sandalwood fan', price: 3000, stock: 50, on_sale: true },
  });
  assert.equal(put.status, 200, put.text);
  const page = await openPage(`${base}/#token=${buyer}`);
  await page.locator('#conn-state[data-state="connected"]').waitFor({ timeout: 10000 });
  // No cap: the contract's 999, no hint.
  await page.locator('.product[data-sku="sku-fan"] button.choose').click();
  assert.equal(await page.locator('#qty').getAttribute('max'), '999');
  assert.equal(await page.locator('#qty-limit').isVisible(), false);

  // The tea: 5 per person.
  await page.locator('.product[data-sku="sku-tea"] button.choose').click();
  assert.equal(await page.locator('#qty').getAttribute('max'), '5');
  assert.match(await page.locator('#qty-limit').textContent(), /Limit 5 per person/);
  const sentBefore = (await wsLog(page)).sent.filter((f) => f.type === 'order.submit').length;
  await page.fill('#qty', '6'); // one past the limit: not sent
  await page.click('#buy');
  await page.locator('#form-error', { hasText: 'At most 5' }).waitFor();
  assert.equal(await page.locator('.order').count(), 0);
  assert.equal((await wsLog(page)).sent.filter((f) => f.type === 'order.submit').length, sentBefore);

  // 3 ordered: 2 left for this viewer; 3 more is refused here, 2 goes through.
  await page.fill('#qty', '3');
  await page.click('#buy');
  let coid = (await page.locator('#last-coid').textContent()).trim();
  await orderRow(page, coid).locator('.status[data-status="pending_payment"]').waitFor({ timeout: 15000 });
  await page.locator('#qty-limit', { hasText: '2 left for you' }).waitFor();
  assert.equal(await page.locator('#qty').getAttribute('max'), '2');
  await page.fill('#qty', '3');
  await page.click('#buy');
  await page.locator('#form-error', { hasText: 'At most 2' }).waitFor();
  assert.equal(await page.locator('.order').count(), 1);
  await page.fill('#qty', '2'); // exactly the cap: sent and confirmed
  await page.click('#buy');
  coid = (await page.locator('#last-coid').textContent()).trim();
  await orderRow(page, coid).locator('.status[data-status="pending_payment"]').waitFor({ timeout: 15000 });
  // All 5 held: nothing more can be ordered, and the page says why.
  await page.locator('#qty-limit', { hasText: 'hold them all' }).waitFor();
  assert.equal(await page.locator('#buy').isDisabled(), true);
  await page.screenshot({ path: path.join(artifacts, 'live-room-limit.png'), fullPage: true });
  const others = pageErrors.filter((e) => !/WebSocket connection to .* failed/.test(e));
  assert.deepEqual(others, []);
});
