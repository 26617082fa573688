// livegate-bench against the real gateway, validator and redis-server: a
// short run whose audit passes, a gateway frozen for 1 s that must show up
// in the latency figures, a gateway killed with submits unanswered (resent
// on the next connection, none left unanswered), real BUSY and RATE_LIMITED
// refusals the bench retries until the orders get in, a broken set-up
// (no validator) that the audit must report as lost orders with a failing
// exit status, --slo verdicts passing and failing, --cleanup, and a
// summary without empty sections.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRedis, startGateway, startValidator, stopAll, sleep, waitFor, bin, runTool } from './lib/system.mjs';

const outDir = mkdtempSync(path.join(os.tmpdir(), 'lg-bench-'));
let redis, gw, validator;
const gatewayEnv = { LIVEGATE_USER_RATE: '0' };

// Runs the bench to completion (bounded) and returns its exit code, output
// and JSON report. okCodes: the exit codes this run may end with.
async function bench(args, { secret = gw.secrets.secret, timeoutMs = 120000, port = gw.port, okCodes = [0] } = {}) {
  const json = path.join(outDir, `r${Math.random().toString(16).slice(2)}.json`);
  const csv = json.replace(/\.json$/, '.csv');
  const { code, out } = await runTool(bin('bench'), ['--url', `ws://127.0.0.1:${port}`, '--secret', secret,
    '--json', json, '--csv', csv, ...args], { name: 'livegate-bench', timeoutMs, okCodes });
  let report = null;
  try { report = JSON.parse(readFileSync(json, 'utf8')); } catch {}
  let timeline = null;
  try { timeline = readFileSync(csv, 'utf8').trim().split('\n'); } catch {}
  return { code, out, report, timeline };
}

before(async () => {
  redis = await startRedis();
  // The per-user rate limit off, as the load scripts run it: the bench's
  // few users send many orders each.
  gw = await startGateway({ redis, env: gatewayEnv });
  validator = await startValidator({ redis });
});
after(stopAll);

test('--help documents every option with its default; bad options exit 2', async () => {
  const help = await bench(['--help']);
  assert.equal(help.code, 0);
  for (const opt of ['--shape', '--conns', '--procs', '--rate', '--duration', '--window', '--bursts',
    '--inflight', '--inflight-until', '--dup-share', '--reconnect-share', '--high-share', '--vip-share', '--invalid-share',
    '--coupon-share', '--rooms', '--skus', '--stock', '--limit-per-user', '--sources', '--gateway-pid', '--pid',
    '--json', '--csv', '--slo', '--cleanup']) assert.match(help.out, new RegExp(`${opt} `), opt);
  assert.match(help.out, /default/);
  const bad = await bench(['--conns', '0'], { okCodes: [2] });
  assert.equal(bad.code, 2);
  assert.match(bad.out, /--conns: bad value '0'/);
  const share = await bench(['--dup-share', '1.5'], { okCodes: [2] });
  assert.equal(share.code, 2);
  // A --pid that is no process is refused before anything runs.
  const nopid = await bench(['--pid', '999999999', '--duration', '1'], { okCodes: [2] });
  assert.equal(nopid.code, 2);
  assert.match(nopid.out, /--pid: /);
  assert.equal(nopid.report, null);
});

test('a steady run with every kind of traffic passes its audit', async () => {
  const r = await bench(['--shape', 'steady', '--conns', '60', '--procs', '2', '--rate', '300',
    '--duration', '3', '--dup-share', '0.1', '--invalid-share', '0.05', '--coupon-share', '0.2',
    '--high-share', '0.2', '--vip-share', '0.1', '--rooms', '2', '--gateway-pid', String(gw.pid),
    '--pid', String(validator.pid), '--pid', String(redis.proc.child.pid)]);
  assert.equal(r.code, 0, r.out);
  // One cost table per run: the bench, the gateway, the validator and Redis,
  // each with CPU µs per confirmed order.
  const cost = r.report.cost;
  assert.equal(cost.confirmed, r.report.orders.confirmed);
  assert.deepEqual(cost.processes.map((p) => p.pid).slice(1).sort(),
    [gw.pid, validator.pid, redis.proc.child.pid].sort());
  for (const p of cost.processes) {
    assert.ok(p.cpu_s > 0 && p.us_per_order > 0, JSON.stringify(p));
    assert.equal(p.ended_early, false);
    // The cost per order counts the children the process waited for (Redis's
    // AOF rewrites) beside its own time.
    assert.ok(typeof p.children_cpu_s === 'number' && p.children_cpu_s >= 0, JSON.stringify(p));
    const per = ((p.cpu_s + p.children_cpu_s) * 1e6) / cost.confirmed;
    assert.ok(Math.abs(p.us_per_order - per) <= 0.01 * per + 0.01, JSON.stringify(p));
  }
  assert.match(r.out, /per confirmed order/i);
  const { orders, audit_counts: a } = r.report;
  assert.ok(r.report.audit_ok);
  assertEveryValidSendAccepted(r);
  assert.equal(orders.confirmed + orders.rejected, orders.accepted);
  assert.ok(orders.resends > 0 && orders.resends_answered_duplicate > 0);
  assert.ok(orders.invalid_sent > 0 && orders.invalid_refused === orders.invalid_sent);
  assert.ok(orders.accepted_high > 0);
  assert.equal(a.lost, 0);
  assert.equal(a.doubled, 0);
  assert.equal(a.dup_wrong, 0);
  assert.ok(r.report.connections.reconnects > 0, 'some resends went over a new connection');
  assertResultsAccounted(r);
  assert.ok(r.report.latency_ms.accept_normal.count > 0);
  assert.ok(r.report.gateway_memory.idle_connections >= 60);
  // the timeline has a header and a line a second, with the sends in it
  assert.match(r.timeline[0], /^second,conns_up,sent,accepted,results/);
  const sent = r.timeline.slice(1).reduce((n, l) => n + Number(l.split(',')[2]), 0);
  assert.equal(sent, orders.submitted);
});

test('a burst that sells out: confirmed qty matches the stock, nothing oversold', async () => {
  const r = await bench(['--shape', 'burst', '--conns', '300', '--procs', '2', '--window', '0.5',
    '--bursts', '2', '--burst-gap', '1', '--stock', '40', '--skus', '2', '--high-share', '0']);
  assert.equal(r.code, 0, r.out);
  const { orders } = r.report;
  assert.ok(r.report.rejected_by_code.OUT_OF_STOCK > 0, r.out);
  assert.ok(orders.confirmed > 0);
  assert.match(r.out, /\[ok\] stock left \(GET skus\) = stock - confirmed qty/);
});

// Work done, however fast the machine: every first send of a valid order
// was accepted (the rest are resends, answered as duplicates, and broken
// orders, refused), nothing was refused and every submit was answered.
function assertEveryValidSendAccepted(r) {
  const { orders, errors_by_code: errors, audit_counts: a } = r.report;
  assert.ok(orders.accepted > 0, r.out);
  assert.deepEqual(Object.entries(errors).filter(([, n]) => n > 0), [], 'refusals');
  assert.equal(orders.accepted + orders.resends + orders.invalid_sent, orders.submitted, JSON.stringify(orders));
  assert.equal(orders.resends_answered_duplicate, orders.resends);
  assert.equal(a.unanswered, 0);
}

// Every final result is in exactly one place: the pushed-result histograms
// (its connection stayed open) or the after-reconnect figures.
function assertResultsAccounted(r) {
  const { orders, latency_ms: l, audit_counts: a } = r.report;
  assert.equal(orders.confirmed + orders.rejected, orders.accepted);
  assert.equal(l.result_normal.count + l.result_high.count + a.after_reconnect + a.push_missing,
    orders.confirmed + orders.rejected);
  assert.equal(l.result_after_reconnect.count, a.after_reconnect);
  assert.ok(a.recovered_by_query <= a.after_reconnect + a.push_missing);
  assert.equal(a.push_missing, 0);
}

test('max: closed loop with orders in flight until their result passes its audit', async () => {
  // many resends on a new connection: each leaves orders without their push
  const r = await bench(['--shape', 'max', '--conns', '10', '--inflight', '8', '--duration', '2',
    '--dup-share', '0.2', '--reconnect-share', '1']);
  assert.equal(r.code, 0, r.out);
  assertEveryValidSendAccepted(r);
  assert.equal(r.report.options.inflight_until, 'result');
  assert.ok(r.report.connections.reconnects > 0);
  assert.ok(r.report.audit_counts.after_reconnect > 0, r.out);
  assertResultsAccounted(r);
  assert.match(r.out, /result figures: the \d+ of \d+ final results pushed/);
});

test('max until order.accepted also passes its audit', async () => {
  const r = await bench(['--shape', 'max', '--conns', '4', '--inflight', '4', '--duration', '1',
    '--inflight-until', 'accept']);
  assert.equal(r.code, 0, r.out);
  assert.equal(r.report.options.inflight_until, 'accept');
  assertResultsAccounted(r);
});

// --slo: a verdict per target and its own exit status (3), apart from the
// audit's (1) and bad options' (2). A short, light run: its latencies are
// far under 30 s on any machine, and never 1 µs.
const light = ['--shape', 'steady', '--conns', '10', '--rate', '100', '--duration', '1',
  '--ramp', '0.3', '--invalid-share', '0', '--dup-share', '0', '--high-share', '0',
  '--vip-share', '0'];

test('--slo: generous targets pass with exit 0, an impossible one fails with exit 3 and is named', async () => {
  const pass = await bench([...light, '--slo', 'accept_p99=30s,result_p99=30s,accept_max_normal=30000ms',
    '--slo', 'lost=0,unanswered=0,doubled=0,confirmed_rate>=1,confirmed>=1']);
  assert.equal(pass.code, 0, pass.out);
  assert.match(pass.out, /^ {2}\[ok\] accept_p99 <= 30s: [\d.]+ (us|ms) \(n=\d+\)$/m);
  assert.match(pass.out, /^ {2}\[ok\] lost <= 0: 0$/m);
  assert.match(pass.out, /^ {2}\[ok\] confirmed_rate >= 1: [\d.]+\/s$/m);
  assert.match(pass.out, /^slo passed \(8 targets\)$/m);
  assert.equal(pass.report.slo.ok, true);
  assert.equal(pass.report.slo.targets.length, 8);
  const p99 = pass.report.slo.targets.find((t) => t.target === 'accept_p99');
  // no high order: both priorities together are the normal orders' figure
  assert.equal(p99.samples, pass.report.latency_ms.accept_normal.count);
  assert.equal(p99.measured, pass.report.latency_ms.accept_normal.p99);
  assert.ok(p99.samples > 0 && p99.measured > 0, JSON.stringify(p99));

  const fail = await bench([...light, '--slo', 'accept_p99=1us,lost=0'], { okCodes: [3] });
  assert.equal(fail.code, 3, fail.out);
  assert.equal(fail.report.audit_ok, true, 'the audit passed: 3 is the targets alone');
  assert.match(fail.out, /^ {2}\[FAIL\] accept_p99 <= 1us: [\d.]+ (us|ms|s) \(n=\d+\)$/m);
  assert.match(fail.out, /^ {2}\[ok\] lost <= 0: 0$/m);
  assert.match(fail.out, /^slo FAILED: accept_p99$/m);
  assert.equal(fail.report.slo.ok, false);
  assert.deepEqual(fail.report.slo.targets.map((t) => [t.target, t.ok]), [['accept_p99', false], ['lost', true]]);
});

test('a bad --slo exits 2 before any load is sent or any room made', async () => {
  for (const [spec, why] of [['accept_p99=5', /a latency is a number with a unit/],
    ['acept_p99=5ms', /unknown target 'acept_p99'/], ['confirmed_rate=10', /confirmed_rate is a floor/],
    ['lost=0,', /an empty target/]]) {
    const r = await bench([...light, '--run-id', 'sloerr', '--slo', spec], { okCodes: [2] });
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, why);
    assert.equal(r.report, null);
  }
  assert.equal(await redis.cli('EXISTS', 'lg:{bench-sloerr-r0}:room'), '0');
  assert.equal(await redis.cli('SISMEMBER', 'lg:rooms', 'bench-sloerr-r0'), '0');
});

test('--cleanup closes and deletes the rooms it made; without it they stay live', async () => {
  const kept = await bench([...light, '--rooms', '2', '--run-id', 'kept']);
  assert.equal(kept.code, 0, kept.out);
  assert.equal(await redis.cli('HGET', 'lg:{bench-kept-r0}:room', 'status'), 'live');
  // The gateways flush the room's totals once a second: the last ones may
  // land just after the bench is done.
  await waitFor(async () => Number(await redis.cli('HGET', 'lg:{bench-kept-r0}:stats', 'gmv_fen')) > 0,
    { timeoutMs: 5000, what: "the kept room's totals" });
  assert.doesNotMatch(kept.out, /cleanup/);

  const r = await bench([...light, '--rooms', '2', '--run-id', 'cleaned', '--cleanup']);
  assert.equal(r.code, 0, r.out);
  assert.ok(r.report.orders.confirmed > 0);
  assert.deepEqual(r.report.cleanup, { rooms_made: 2, rooms_cleaned: 2, deleted: true });
  assert.match(r.out, /^cleanup: 2 of 2 rooms closed and deleted/m);
  for (const room of ['bench-cleaned-r0', 'bench-cleaned-r1']) {
    assert.equal(await redis.cli('EXISTS', `lg:{${room}}:room`), '0', room);
    assert.equal(await redis.cli('SISMEMBER', 'lg:rooms', room), '0', room);
    assert.equal(await redis.cli('ZSCORE', 'lg:rooms:active', room), '', room);
    // nothing left to add to the "*" figures; only the orders and their
    // idempotency keys stay, for their TTL
    assert.equal(await redis.cli('EXISTS', `lg:{${room}}:stats`), '0', room);
    const left = (await redis.cli('--scan', '--pattern', `lg:{${room}}:*`)).split('\n').filter(Boolean);
    assert.ok(left.length > 0, room);
    assert.deepEqual(left.filter((k) => !/^lg:\{[^}]+\}:(order|idem):/.test(k)), [], room);
  }
  // with rooms it did not make, --cleanup is refused up front
  const bad = await bench(['--cleanup', '--no-setup'], { okCodes: [2] });
  assert.match(bad.out, /--cleanup closes the rooms the bench made; with --no-setup it made none/);
});

test('the summary prints no empty section; throughput over both spans, each labelled', async () => {
  const r = await bench(light);
  assert.equal(r.code, 0, r.out);
  assert.doesNotMatch(r.out, /^(rejections|errors|close codes):\s*$/m);
  assert.doesNotMatch(r.out, /^errors:/m, 'no refusal in this run, so no errors line');
  assert.doesNotMatch(r.out, /accept high/, 'no high order, so no line for it');
  assert.match(r.out, /^throughput: \d+ confirmed orders\/s over the whole run \(first send to last final result, [\d.]+ s\); \d+\/s over the sending window \(first to last send, [\d.]+ s\)/m);
  const t = r.report.throughput;
  assert.ok(t.sending_window_s > 0.5 && t.sending_window_s <= 1.05, JSON.stringify(t));
  assert.ok(t.run_s >= t.sending_window_s, JSON.stringify(t));
  assert.equal(r.report.confirmed_per_s, t.confirmed_per_s_run);
  const near = (a, b) => Math.abs(a - b) <= 0.01 * b + 0.5;
  assert.ok(near(t.confirmed_per_s_run, r.report.orders.confirmed / t.run_s), JSON.stringify(t));
  assert.ok(near(t.confirmed_per_s_sending, r.report.orders.confirmed / t.sending_window_s), JSON.stringify(t));
});

test('a gateway frozen for 1 s shows up in p99 and max', async () => {
  const run = bench(['--shape', 'steady', '--conns', '40', '--rate', '200', '--duration', '6',
    '--ramp', '0.5', '--dup-share', '0', '--invalid-share', '0']);
  // freeze once the bench's orders are flowing (not at a guessed time): the
  // 1 s freeze then falls inside the 6 s of sends
  const before = await gw.metric('livegate_orders_accepted_total');
  await waitFor(async () => (await gw.metric('livegate_orders_accepted_total')) >= before + 100,
    { timeoutMs: 60000, what: 'the bench\'s first 100 orders accepted' });
  gw.proc.child.kill('SIGSTOP');
  await sleep(1000);
  gw.proc.child.kill('SIGCONT');
  const r = await run;
  assert.equal(r.code, 0, r.out);
  const acc = r.report.latency_ms.accept_normal;
  assert.ok(acc.max >= 900, `accept max ${acc.max} ms`);
  // ~200 of 1200 orders were due during the freeze: well over 1 % of them
  assert.ok(acc.p99 >= 500, `accept p99 ${acc.p99} ms`);
  // ...and far from half: the median order did not wait out the freeze
  // (whatever this machine's normal latency L: the max is about L + 1000)
  assert.ok(acc.p50 < acc.max - 900, `accept p50 ${acc.p50} ms, max ${acc.max} ms`);
  assert.ok(r.report.latency_ms.result_normal.max >= 900);
});

test('submits cut off by a killed gateway are resent on the next connection: none unanswered', async () => {
  const run = bench(['--shape', 'steady', '--conns', '20', '--rate', '200', '--duration', '5',
    '--ramp', '0.5', '--dup-share', '0', '--invalid-share', '0', '--drain', '20']);
  const before = await gw.metric('livegate_orders_accepted_total');
  await waitFor(async () => (await gw.metric('livegate_orders_accepted_total')) >= before + 100,
    { timeoutMs: 60000, what: 'the bench\'s first 100 orders accepted' });
  // Frozen, the gateway answers nothing while the bench goes on writing;
  // killed, it leaves those submits without any answer on a dead connection.
  gw.proc.child.kill('SIGSTOP');
  await sleep(300);
  await gw.kill9();
  gw = await startGateway({ redis, secrets: gw.secrets, port: gw.port, env: gatewayEnv });
  const r = await run;
  assert.equal(r.code, 0, r.out);
  const { retries, audit_counts: a } = r.report;
  assert.ok(retries.resubmits_after_close > 0, r.out);
  assert.equal(a.unanswered, 0);
  assert.equal(a.unsent, 0);
  assert.equal(a.lost, 0);
  assert.match(r.out, /submits resent on the viewer's next connection/);
});

// Refusals the gateway really sends, each from a gateway of its own started
// with the limit that triggers it. The bench must wait retry_after_ms,
// resubmit the same client_order_id until it gets in, and its audit must
// pass: every refusal carried retry_after_ms, and order.query knows none of
// the orders that were refused and never got in.
async function benchAgainst(env, args) {
  const own = await startGateway({ redis, env: { ...gatewayEnv, ...env } });
  try {
    return await bench(args, { secret: own.secrets.secret, port: own.port });
  } finally {
    await own.stop();
  }
}

function assertRetriedAndAudited(r, code) {
  assert.equal(r.code, 0, r.out);
  const { retries: rt, audit_counts: a, errors_by_code: errors } = r.report;
  assert.ok(errors[code] > 0, `no ${code}: ${r.out}`);
  assert.equal(rt.refusals, errors.BUSY + errors.RATE_LIMITED);
  assert.ok(rt.resubmits > 0, r.out);
  assert.ok(rt.admitted_after_retry > 0, r.out);
  assert.equal(rt.first_send_to_accept_ms.count, rt.admitted_after_retry);
  assert.ok(rt.first_send_to_accept_ms.max > 0);
  assert.equal(a.refusal_no_retry_after, 0);
  assert.equal(a.refused_only_queued, 0);
  assert.equal(a.refused_only_checked, rt.refused_gave_up + rt.refused_waiting_at_end);
  assert.equal(a.refused_but_queued, 0);
  assert.equal(a.unanswered, 0);
  assert.equal(a.lost, 0);
  // a retry is no new order: every first send of a valid order is accepted
  // or still refused at the end
  const { orders } = r.report;
  assert.equal(orders.accepted + rt.refused_gave_up + rt.refused_waiting_at_end + orders.resends,
    orders.submitted, JSON.stringify({ orders, rt }));
  assert.match(r.out, /\[ok\] every BUSY \/ RATE_LIMITED carried retry_after_ms/);
  assert.match(r.out, /\[ok\] orders refused and never accepted left nothing queued/);
  assert.match(r.out, /orders accepted after >= 1 retry/);
}

test('RATE_LIMITED past the in-flight cap of a connection: retried until accepted', async () => {
  const r = await benchAgainst({ LIVEGATE_CONN_INFLIGHT: '1' },
    ['--shape', 'max', '--conns', '4', '--inflight', '4', '--duration', '2', '--dup-share', '0',
      '--invalid-share', '0', '--drain', '10']);
  assertRetriedAndAudited(r, 'RATE_LIMITED');
});

test('RATE_LIMITED past the per-user rate: retried after retry_after_ms', async () => {
  const r = await benchAgainst({ LIVEGATE_USER_RATE: '2', LIVEGATE_USER_BURST: '2' },
    ['--shape', 'steady', '--conns', '2', '--rate', '20', '--duration', '2', '--dup-share', '0',
      '--invalid-share', '0', '--drain', '5']);
  assertRetriedAndAudited(r, 'RATE_LIMITED');
});

const outcome = async (g, name) => {
  const r = await g.http('GET', '/metrics');
  const m = r.text.match(new RegExp(`^livegate_orders_total\\{outcome="${name}"\\} (\\d+)$`, 'm'));
  return m ? Number(m[1]) : 0;
};

test('BUSY while the validator is frozen: retried after retry_after_ms, admitted once it drains', async () => {
  // A backlog with no decision for 200 ms reads as stuck validators: every
  // new order is refused BUSY until the validator decides again.
  const own = await startGateway({ redis, env: { ...gatewayEnv, LIVEGATE_ADMIT_STALL_MS: '200' } });
  try {
    const run = bench(['--shape', 'steady', '--conns', '10', '--rate', '100', '--duration', '4',
      '--ramp', '0.5', '--dup-share', '0', '--invalid-share', '0', '--drain', '15'],
    { secret: own.secrets.secret, port: own.port });
    await waitFor(async () => (await own.metric('livegate_orders_accepted_total')) >= 50,
      { timeoutMs: 60000, what: 'the bench\'s first 50 orders accepted' });
    validator.proc.child.kill('SIGSTOP');
    try {
      await waitFor(async () => (await outcome(own, 'busy')) >= 5, { timeoutMs: 10000, what: 'BUSY refusals' });
    } finally {
      validator.proc.child.kill('SIGCONT');
    }
    const r = await run;
    assertRetriedAndAudited(r, 'BUSY');
    assert.equal(r.report.errors_by_code.BUSY, await outcome(own, 'busy'));
  } finally {
    await own.stop();
  }
});

test('with no validator, every order is answered EXPIRED within the promise, which the bench waits out', async () => {
  await validator.stop(); // started again by the next test
  const r = await bench(['--shape', 'steady', '--conns', '10', '--rate', '100', '--duration', '1',
    '--drain', '2', '--invalid-share', '0']);
  assert.equal(r.code, 0, r.out);
  assert.ok(r.report.orders.accepted > 50, r.out);
  assert.equal(r.report.audit_counts.lost, 0, r.out);
  assert.equal(r.report.rejected_by_code.EXPIRED, r.report.orders.accepted, r.out);
  assert.match(r.out, /\[ok\] every accepted order got a final result/);
  assert.match(r.out, /\[ok\] pushed results within 10 s of acceptance/);
});

test('a broken set-up (no validator, a deadline past the bench\'s wait) fails the audit with lost orders', async () => {
  // With the 10 s deadline the gateway's sweep answers EXPIRED in time and
  // the bench waits for that (11 s after the last accept): no order is
  // lost. Only a deadline longer than the promise leaves orders unanswered.
  // (the validator was stopped by the test before)
  const own = await startGateway({ redis, env: { ...gatewayEnv, LIVEGATE_DEADLINE_MS: '60000' } });
  try {
    const r = await bench(['--shape', 'steady', '--conns', '10', '--rate', '100', '--duration', '1',
      '--drain', '2', '--invalid-share', '0'], { secret: own.secrets.secret, port: own.port, okCodes: [1] });
    assert.equal(r.code, 1, r.out);
    assert.equal(r.report.audit_ok, false);
    assert.ok(r.report.orders.accepted > 50);
    assert.equal(r.report.audit_counts.lost, r.report.orders.accepted);
    assert.match(r.out, /\[FAIL\] every accepted order got a final result/);
  } finally {
    await own.stop();
    validator = await startValidator({ redis });
  }
});

test('an oversold SKU fails the audit', async () => {
  // Stock is raised behind the bench's back after it read the catalog: the
  // validator then confirms more than the stock the bench set up.
  const run = bench(['--shape', 'burst', '--conns', '100', '--window', '0.5', '--stock', '5',
    '--skus', '1', '--high-share', '0', '--run-id', 'oversell', '--ramp', '0.5'], { okCodes: [1] });
  // once the bench has set the SKU up (with its stock of 5)
  const skuKey = 'lg:{bench-oversell-r0}:sku:sku-0';
  await waitFor(async () => (await redis.cli('HGET', skuKey, 'stock')) === '5',
    { timeoutMs: 30000, everyMs: 10, what: 'the bench\'s SKU set up' });
  await redis.cli('HSET', skuKey, 'stock', '1000');
  const r = await run;
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /\[FAIL\] confirmed qty per SKU within its stock/);
});
