// dashboard.js - the back office. Subscribes the monitor to one room (or
// "*" for an admin), turns each monitor.stats frame into figures and uPlot
// charts (orders/s, and the BUSY and RATE_LIMITED refusals per second, are
// the differences of the counters between frames; the queue's predicted
// wait and drain rate are shown as given), lists the masked monitor.order
// feed and moves orders along with order.update. The connection, the
// subscription (renewed after every reconnect) and the requests are the
// client package's (clients/js).
import { LivegateClient } from '/static/vendor/livegate-client.js';
import {
  clockTime, el, readFragment, showSocketState, toast, tokenClaims, writeFragment, yuan,
} from './common.js';

/* global uPlot */
const $ = (id) => document.getElementById(id);

const WINDOW_POINTS = 300; // five minutes of one-second frames
const SPARK_POINTS = 60; // the refusals' sparkline: the last minute
const FEED_ROWS = 200;
const MOVES = {
  // not decided yet as far as this page has heard: the moves it will have
  // once confirmed (the gateway answers INVALID_TRANSITION until then)
  queued: ['paid', 'cancelled'],
  pending_payment: ['paid', 'cancelled'],
  paid: ['shipped', 'cancelled'],
  shipped: ['delivered'],
};
const SETTLED = new Set(['delivered', 'cancelled', 'rejected']);
const STATUS_TEXT = {
  queued: 'queued',
  pending_payment: 'awaiting payment',
  paid: 'paid',
  shipped: 'shipped',
  delivered: 'delivered',
  cancelled: 'cancelled',
  rejected: 'rejected',
};
// Frames about one order can arrive out of order (the gateway announces the
// accept while a fast validator may already have published its decision),
// so a row's status only moves forward along the contract's moves.
const RANK = { queued: 0, pending_payment: 1, rejected: 1, paid: 2, shipped: 3, delivered: 4, cancelled: 5 };
const rank = (status) => RANK[status] ?? 0;
const ACTIONS = [
  ['paid', 'Paid'], ['shipped', 'Shipped'], ['delivered', 'Delivered'], ['cancelled', 'Cancel'],
];
const PALETTE = ['#e8364f', '#2f6fdd', '#15935d', '#c77a00', '#7b4bd6', '#0f9bb5', '#8a5a00', '#d94fa5', '#5b6272', '#3d7514'];

const state = {
  token: null,
  claims: null,
  room: null,
  client: null, // the LivegateClient
  prevStats: null,
  series: {
    ts: [], accepted: [], confirmed: [], rejected: [], busy: [], limited: [], p50: [], p99: [], high: [], normal: [], wait: [],
  },
  rejCodes: [], // codes seen, in order of appearance
  rejSeries: {}, // code -> per-second values aligned with series.ts
  charts: {},
  feed: new Map(), // order_id -> { order, tr }
  dropped: 0,
};

// ---- token ------------------------------------------------------------------

function openDashboard(token, room) {
  const claims = tokenClaims(token);
  if (!claims || typeof claims.room !== 'string') return tokenError('That does not look like a livegate token.');
  if (claims.role === 'viewer') return tokenError('This is a viewer token; the back office needs an operator or admin token.');
  const target = (room || '').trim() || claims.room;
  if (target === '*' && claims.role !== 'admin') return tokenError('Only an admin may watch every room ("*"): name a room.');
  state.token = token.trim();
  state.claims = claims;
  state.room = target;
  writeFragment({ token: state.token, room: target !== claims.room ? target : null });
  $('token-panel').hidden = true;
  $('dash').hidden = false;
  $('change-token').hidden = false;
  $('room-name').textContent = target === '*' ? 'All rooms' : `Room ${target}`;
  $('who').textContent = `${claims.sub ?? ''} · ${claims.role ?? ''}`;
  $('room-col').hidden = target !== '*';
  resetData();
  buildCharts();
  connect();
}

function tokenError(text) {
  $('token-error').textContent = text;
  $('token-error').hidden = false;
  $('token-panel').hidden = false;
}

function closeDashboard() {
  state.client?.close();
  state.client = null;
  $('dash').hidden = true;
  $('token-panel').hidden = false;
  $('change-token').hidden = true;
  writeFragment({});
  showSocketState($('conn-state'), 'idle');
}

function resetData() {
  state.prevStats = null;
  for (const k of Object.keys(state.series)) state.series[k] = [];
  state.rejCodes = [];
  state.rejSeries = {};
  state.feed.clear();
  state.dropped = 0;
  $('spark-refused').firstElementChild.setAttribute('points', '');
  $('feed').replaceChildren();
  $('feed-empty').hidden = false;
  $('dropped').textContent = '';
}

// ---- charts -------------------------------------------------------------------

function chartSize(node) {
  return { width: Math.max(280, node.clientWidth), height: 210 };
}

const twoDigits = (n) => String(n).padStart(2, '0');
// x values are Unix seconds; label them as local wall-clock time.
function timeLabels(u, splits) {
  return splits.map((v) => {
    const d = new Date(v * 1000);
    return `${twoDigits(d.getHours())}:${twoDigits(d.getMinutes())}:${twoDigits(d.getSeconds())}`;
  });
}

// The last minute at least, ending at the newest frame (or now, before any).
function timeRange(u, min, max) {
  const xs = u.data?.[0] ?? [];
  const hi = xs.length ? xs[xs.length - 1] : Date.now() / 1000;
  const lo = xs.length ? Math.min(xs[0], hi - 60) : hi - 60;
  return [lo, hi];
}

const fromZero = (u, min, max) => [0, Math.max(1, max * 1.15)];
const axisStyle = { stroke: '#6b7385', grid: { stroke: '#eef0f4' }, ticks: { stroke: '#e3e6ec' } };

// right: an optional second y axis { scale, label } for series that name it
function makeChart(id, seriesDefs, data, yLabel, right = null) {
  const node = $(id);
  node.replaceChildren();
  const scales = { x: { time: true, range: timeRange }, y: { range: fromZero } };
  const axes = [
    { ...axisStyle, values: timeLabels },
    { ...axisStyle, size: 56, label: yLabel, labelSize: 18 },
  ];
  if (right) {
    scales[right.scale] = { range: fromZero };
    axes.push({ ...axisStyle, grid: { show: false }, scale: right.scale, side: 1, size: 56, label: right.label, labelSize: 18 });
  }
  const opts = {
    ...chartSize(node),
    // at least a minute across, so a fresh chart has readable time labels
    scales,
    // dots only while a line cannot be drawn yet (a single frame)
    series: [{}, ...seriesDefs.map((s) => ({
      width: 2, points: { show: (u, i, i0, i1) => i1 - i0 < 1, size: 6 }, spanGaps: false, ...s,
    }))],
    axes,
    legend: { live: false },
    cursor: { drag: { x: false, y: false } },
  };
  return new uPlot(opts, data, node);
}

function buildCharts() {
  for (const c of Object.values(state.charts)) c.destroy();
  const s = state.series;
  state.charts.rate = makeChart('chart-rate', [
    { label: 'accepted/s', stroke: '#2f6fdd', fill: 'rgba(47,111,221,0.08)' },
    { label: 'confirmed/s', stroke: '#15935d' },
    { label: 'rejected/s', stroke: '#e8364f' },
    { label: 'BUSY/s', stroke: '#c77a00', dash: [6, 4] },
    { label: 'RATE_LIMITED/s', stroke: '#7b4bd6', dash: [2, 3] },
  ], [s.ts, s.accepted, s.confirmed, s.rejected, s.busy, s.limited], 'orders/s');
  state.charts.latency = makeChart('chart-latency', [
    { label: 'p50', stroke: '#2f6fdd' },
    { label: 'p99', stroke: '#c77a00' },
  ], [s.ts, s.p50, s.p99], 'ms');
  state.charts.queue = makeChart('chart-queue', [
    { label: 'high', stroke: '#e8364f', fill: 'rgba(232,54,79,0.08)' },
    { label: 'normal', stroke: '#2f6fdd', fill: 'rgba(47,111,221,0.08)' },
    { label: 'wait of a normal order', stroke: '#c77a00', dash: [6, 4], scale: 'ms' },
  ], [s.ts, s.high, s.normal, s.wait], 'entries', { scale: 'ms', label: 'wait ms' });
  buildRejectionChart();
}

function buildRejectionChart() {
  state.charts.rejections?.destroy();
  const codes = state.rejCodes;
  const defs = codes.length
    ? codes.map((code, i) => ({ label: code, stroke: PALETTE[i % PALETTE.length] }))
    : [{ label: 'rejected/s', stroke: '#e8364f' }];
  const data = [state.series.ts, ...(codes.length ? codes.map((c) => state.rejSeries[c]) : [state.series.rejected])];
  state.charts.rejections = makeChart('chart-rejections', defs, data, 'rejections/s');
}

function redraw() {
  const s = state.series;
  state.charts.rate.setData([s.ts, s.accepted, s.confirmed, s.rejected, s.busy, s.limited]);
  state.charts.latency.setData([s.ts, s.p50, s.p99]);
  state.charts.queue.setData([s.ts, s.high, s.normal, s.wait]);
  const codes = state.rejCodes;
  state.charts.rejections.setData([s.ts, ...(codes.length ? codes.map((c) => state.rejSeries[c]) : [s.rejected])]);
}

const resizer = new ResizeObserver(() => {
  for (const [name, chart] of Object.entries(state.charts)) {
    const node = $(`chart-${name}`);
    if (node) chart.setSize(chartSize(node));
  }
});
for (const id of ['chart-rate', 'chart-latency', 'chart-queue', 'chart-rejections']) resizer.observe($(id));

// ---- stats ----------------------------------------------------------------------

const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const count = (v) => (num(v) === null ? '—' : v.toLocaleString('en-US'));
const ms = (v) => (num(v) === null ? '—' : v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${Math.round(v)} ms`);
const perS = (v) => (num(v) === null ? '—' : v >= 10 ? Math.round(v).toLocaleString('en-US') : v.toFixed(1));

// Per-second rate of a counter between two frames; a counter that went
// down (the room's figures were reset) restarts from zero rather than
// charting a negative rate.
function rate(cur, prev, dtS) {
  if (num(cur) === null || num(prev) === null || dtS <= 0) return null;
  return Math.max(0, cur - prev) / dtS;
}

function trim(arr) {
  if (arr.length > WINDOW_POINTS) arr.splice(0, arr.length - WINDOW_POINTS);
}

// The frame that answers the subscribe can come a fraction of a second
// before the first periodic one; rates over such a short span would be
// noise, so a point needs half a second since the frame it is measured from.
const MIN_SPAN_MS = 500;

function onStats(m) {
  const prev = state.prevStats;
  if (!prev || m.ts_ms < prev.ts_ms || m.ts_ms - prev.ts_ms >= MIN_SPAN_MS) state.prevStats = m;
  renderFigures(m, prev);
  if (!prev || m.ts_ms - prev.ts_ms < MIN_SPAN_MS) return;
  const dtS = (m.ts_ms - prev.ts_ms) / 1000;
  const s = state.series;
  const o = m.orders ?? {};
  const po = prev.orders ?? {};
  s.ts.push(m.ts_ms / 1000);
  s.accepted.push(rate(o.accepted, po.accepted, dtS));
  s.confirmed.push(rate(o.confirmed, po.confirmed, dtS));
  s.rejected.push(rate(o.rejected, po.rejected, dtS));
  s.busy.push(rate(o.busy, po.busy, dtS));
  s.limited.push(rate(o.rate_limited, po.rate_limited, dtS));
  s.p50.push(num(m.latency_ms?.confirm_p50));
  s.p99.push(num(m.latency_ms?.confirm_p99));
  s.high.push(num(m.queue?.high));
  s.normal.push(num(m.queue?.normal));
  s.wait.push(num(m.queue?.predicted_wait_ms?.normal));

  const byCode = m.rejected_by_code ?? {};
  const prevByCode = prev.rejected_by_code ?? {};
  let newCode = false;
  for (const code of Object.keys(byCode)) {
    if (!state.rejSeries[code]) {
      state.rejCodes.push(code);
      state.rejSeries[code] = new Array(s.ts.length - 1).fill(null);
      newCode = true;
    }
  }
  for (const code of state.rejCodes) state.rejSeries[code].push(rate(byCode[code] ?? 0, prevByCode[code] ?? 0, dtS));

  for (const arr of [...Object.values(s), ...Object.values(state.rejSeries)]) trim(arr);
  if (newCode) buildRejectionChart();
  redraw();
  renderRefusals();
}

// The refusals of the newest point, split by code, with the last minute of
// their sum as a sparkline.
function renderRefusals() {
  const s = state.series;
  const last = s.ts.length - 1;
  const busy = s.busy[last];
  const limited = s.limited[last];
  const total = busy === null && limited === null ? null : (busy ?? 0) + (limited ?? 0);
  $('kpi-refused').textContent = perS(total);
  $('kpi-refused-sub').textContent = `BUSY ${perS(busy)} · RATE_LIMITED ${perS(limited)}`;
  $('kpi-refused-card').classList.toggle('warn', (total ?? 0) > 0);
  const sums = s.ts.slice(-SPARK_POINTS).map((_, i, xs) => {
    const k = s.ts.length - xs.length + i;
    return (s.busy[k] ?? 0) + (s.limited[k] ?? 0);
  });
  const top = Math.max(1, ...sums);
  const step = sums.length > 1 ? 100 / (SPARK_POINTS - 1) : 0;
  const x0 = 100 - step * (sums.length - 1);
  $('spark-refused').firstElementChild.setAttribute('points',
    sums.map((v, i) => `${(x0 + i * step).toFixed(1)},${(19 - (v / top) * 18).toFixed(1)}`).join(' '));
}

function renderFigures(m, prev) {
  const o = m.orders ?? {};
  // The gateway's own count of this monitor's dropped feed events, when it
  // sends one, is the authority; the frames' "dropped" fill in between.
  if (typeof m.feed_dropped === 'number' && m.feed_dropped > state.dropped) {
    state.dropped = m.feed_dropped;
    showDropped();
  }
  $('kpi-gmv').textContent = yuan(m.gmv_fen);
  $('kpi-connections').textContent = count(m.connections);
  $('kpi-accepted').textContent = count(o.accepted);
  $('kpi-accepted-sub').textContent = `${count(o.received)} received · ${count(o.duplicates)} dup · ${count(o.busy)} busy`;
  $('kpi-confirmed').textContent = count(o.confirmed);
  $('kpi-confirmed-sub').textContent = `accept p99 ${ms(m.latency_ms?.accept_p99)}`;
  $('kpi-rejected').textContent = count(o.rejected);
  const codes = Object.entries(m.rejected_by_code ?? {}).sort((a, b) => b[1] - a[1]);
  $('kpi-rejected-sub').textContent = codes.length ? `top: ${codes[0][0]}` : 'none';
  // Confirmed orders the validators cancelled unpaid at their payment deadline.
  $('kpi-pay-timeouts').textContent = count(o.pay_timeouts);
  const q = m.queue ?? {};
  $('kpi-queue').textContent = num(q.high) === null ? '—' : `${count(q.high)} / ${count(q.normal)}`;
  $('kpi-queue-sub').textContent = `high / normal · oldest ${ms(q.oldest_age_ms)}`;
  // The wait a new order would have, from the validators' drain rate;
  // unknown until they have measured one.
  const wait = q.predicted_wait_ms;
  $('kpi-wait').textContent = wait && num(q.drain_per_s) !== null
    ? `wait ${ms(wait.normal)} · high ${ms(wait.high)} · ${perS(q.drain_per_s)}/s`
    : 'wait unknown: no drain rate yet';
  $('kpi-p99').textContent = ms(m.latency_ms?.confirm_p99);
  $('kpi-sla').textContent = `p50 ${ms(m.latency_ms?.confirm_p50)} · max ${ms(m.latency_ms?.confirm_max)} · ${count(m.sla_violations)} over 10 s`;
  $('kpi-sla-card').classList.toggle('alert', (m.sla_violations ?? 0) > 0);
  if (prev && m.ts_ms - prev.ts_ms >= MIN_SPAN_MS) {
    $('kpi-rate').textContent = perS(rate(o.accepted, prev.orders?.accepted, (m.ts_ms - prev.ts_ms) / 1000));
  }
  $('rej-totals').replaceChildren(...codes.map(([code, n]) => el('span', { text: `${code} ${count(n)}` })));
}

// ---- the order feed -----------------------------------------------------------------

function actionButtons(order) {
  const allowed = MOVES[order.status];
  // A status this page does not know (or a frame lost to sampling) leaves
  // the choice to the gateway, which answers INVALID_TRANSITION if needed.
  const can = (to) => (SETTLED.has(order.status) ? false : allowed ? allowed.includes(to) : true);
  return el('div', { class: 'actions' }, ACTIONS.map(([to, label]) => el('button', {
    type: 'button',
    class: `secondary${to === 'cancelled' ? ' danger' : ''}`,
    'data-action': to,
    disabled: !can(to),
    onclick: () => updateOrder(order.order_id, to),
  }, label)));
}

function renderRow(order) {
  return el('tr', { 'data-order-id': order.order_id, 'data-status': order.status ?? '' },
    el('td', { text: clockTime(order.at_ms) }),
    state.room === '*' ? el('td', { class: 'mono', text: order.room_id ?? '' }) : null,
    el('td', { class: 'mono', text: order.order_id }),
    el('td', { class: 'mono', text: order.sku_id ?? '' }),
    el('td', { class: 'num', text: order.qty ?? '' }),
    el('td', { class: 'num', text: yuan(order.amount) }),
    el('td', { class: order.priority === 'high' ? 'prio-high' : '', text: order.priority ?? '' }),
    el('td', { text: order.buyer ?? '' }),
    el('td', { class: 'mono', text: order.phone ?? '' }),
    el('td', {}, el('span', {
      class: `status status-${order.status}`, 'data-status': order.status ?? '',
      text: STATUS_TEXT[order.status] ?? order.status ?? '',
    })),
    el('td', {}, actionButtons(order)));
}

function upsertFeed(patch, { fresh = true } = {}) {
  if (!patch.order_id) return;
  const known = state.feed.get(patch.order_id);
  const defined = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
  if (known && defined.status && rank(defined.status) < rank(known.order.status)) {
    delete defined.status;
    delete defined.at_ms;
  }
  const order = { ...(known?.order ?? {}), ...defined };
  const tr = renderRow(order);
  if (fresh) tr.classList.add('fresh');
  if (known) {
    known.tr.replaceWith(tr);
  } else {
    $('feed').prepend(tr);
    while (state.feed.size >= FEED_ROWS) {
      const oldest = state.feed.keys().next().value;
      state.feed.get(oldest).tr.remove();
      state.feed.delete(oldest);
    }
  }
  state.feed.set(order.order_id, { order, tr });
  $('feed-empty').hidden = true;
}

function showDropped() {
  $('dropped').textContent = state.dropped > 0
    ? `${state.dropped.toLocaleString('en-US')} events not shown (sampled under load)` : '';
}

function onOrder(m) {
  if (typeof m.dropped === 'number' && m.dropped > 0) {
    state.dropped += m.dropped;
    showDropped();
  }
  const { type, ...order } = m;
  upsertFeed(order);
}

function updateOrder(orderId, status) {
  if (state.client?.state !== 'open') {
    toast('error', 'Not connected', 'The update was not sent.');
    return;
  }
  const row = state.feed.get(orderId);
  row?.tr.querySelectorAll('.actions button').forEach((b) => { b.disabled = true; });
  state.client.updateOrder(orderId, status).then(onUpdated, (err) => {
    if (err?.code === 'CLOSED') return;
    if (state.feed.get(orderId)) upsertFeed({ order_id: orderId }, { fresh: false }); // buttons back
    toast('error', `${err?.code ?? 'Error'}: not ${status}`, `${orderId} · ${err?.message ?? ''}`);
  });
}

function onUpdated(m) {
  upsertFeed({ order_id: m.order_id, status: m.status });
  toast('success', `Order ${m.status}`, m.order_id);
}

// ---- the connection ---------------------------------------------------------------------

function connect() {
  state.client?.close();
  const client = new LivegateClient({ token: state.token });
  client.on('connection', (ev) => {
    showSocketState($('conn-state'), ev.state, ev.state === 'unauthorized' ? ev.reason : ev);
    if (ev.state === 'unauthorized') tokenError(`The gateway refused the token: ${ev.reason ?? 'unauthorized'}.`);
  });
  // A reconnect starts a new series of counters' differences (the package
  // subscribes again right after this).
  client.on('auth', () => { state.prevStats = null; });
  client.on('stats', onStats);
  client.on('feed', onOrder);
  client.on('error', (err) => toast('error', err.code ?? 'error', err.message ?? ''));
  state.client = client;
  client.subscribeMonitor(state.room).catch((err) => {
    if (err?.code === 'CLOSED' || err?.code === 'UNAUTHORIZED') return; // left, or shown by 'connection'
    toast('error', `Monitor refused: ${err?.code ?? 'error'}`, err?.message ?? '');
  });
}

// ---- start ------------------------------------------------------------------------------

$('token-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  $('token-error').hidden = true;
  openDashboard($('token-input').value, $('room-input').value);
});
$('change-token').addEventListener('click', closeDashboard);

const frag = readFragment();
if (frag.room) $('room-input').value = frag.room;
if (frag.token) openDashboard(frag.token, frag.room);
else showSocketState($('conn-state'), 'idle');
