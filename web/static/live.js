// live.js - the demo live room. Loads the room's products over HTTP with
// the viewer's token (each SKU's limit_per_user caps the quantity field),
// and talks to the gateway through the client package (clients/js): one
// submit per purchase with a fresh client_order_id (a retry submits the
// same order again, which the gateway answers as a duplicate instead of
// ordering twice); the package resubmits after reconnects, retries BUSY
// and RATE_LIMITED, and asks for the open orders after every auth.ok.
// This page shows what its events say: results and order.status for the
// buyer's orders, sku.update for stock.
import { LivegateClient, newClientOrderId } from '/static/vendor/livegate-client.js';
import {
  clockTime, el, readFragment, showSocketState, toast, tokenClaims, writeFragment, yuan, yuanToFen,
} from './common.js';

const $ = (id) => document.getElementById(id);

const STATUS_TEXT = {
  sending: 'Sending…',
  queued: 'Accepted, checking…',
  pending_payment: 'Confirmed · awaiting payment',
  paid: 'Paid',
  shipped: 'Shipped',
  delivered: 'Delivered',
  cancelled: 'Cancelled',
  rejected: 'Rejected',
  not_placed: 'Not placed',
  unknown: 'Not placed',
};
const RANK = {
  not_placed: -1, unknown: -1, sending: -1, queued: 0, pending_payment: 1, rejected: 1,
  paid: 2, shipped: 3, delivered: 4, cancelled: 5,
};
const rank = (status) => RANK[status] ?? -1;
// No further change can come for these.
const SETTLED = new Set(['rejected', 'delivered', 'cancelled']);

// Orders that hold (or may soon hold) some of the buyer's limit_per_user:
// everything but a refusal, a rejection and a cancellation.
const HOLDS = new Set(['sending', 'queued', 'pending_payment', 'paid', 'shipped', 'delivered']);

const state = {
  token: null,
  claims: null,
  client: null, // the LivegateClient
  skus: new Map(), // sku_id -> {sku_id, name, price, stock_left, limit_per_user, on_sale}
  selected: null,
  orders: new Map(), // client_order_id -> order summary (no personal data)
  last: null, // { coid, order }: the last submit, submitted again as is by Retry
};

// ---- token ----------------------------------------------------------------

function useToken(token) {
  const claims = tokenClaims(token);
  if (!claims || typeof claims.room !== 'string' || !claims.room) {
    showTokenError('That does not look like a livegate token.');
    return;
  }
  if (claims.role && claims.role !== 'viewer') {
    showTokenError(`This is a ${claims.role} token; the live room needs a viewer token (the back office is at /dashboard).`);
    return;
  }
  state.token = token.trim();
  state.claims = claims;
  writeFragment({ token: state.token });
  $('token-panel').hidden = true;
  $('room').hidden = false;
  $('change-token').hidden = false;
  $('room-name').textContent = `Room ${claims.room}`;
  $('room-title').textContent = `Room ${claims.room}`;
  $('who').textContent = claims.sub ? `Signed in as ${claims.sub}` : '';
  loadOrders();
  renderOrders();
  loadProducts();
  connect();
}

function showTokenError(text) {
  $('token-error').textContent = text;
  $('token-error').hidden = false;
  $('token-panel').hidden = false;
}

function leaveRoom() {
  state.client?.close();
  state.client = null;
  state.token = null;
  state.skus.clear();
  state.selected = null;
  state.last = null;
  $('room').hidden = true;
  $('token-panel').hidden = false;
  $('change-token').hidden = true;
  $('token-input').value = '';
  writeFragment({});
  showSocketState($('conn-state'), 'idle');
}

// ---- products -------------------------------------------------------------

async function loadProducts() {
  const room = state.claims.room;
  try {
    const res = await fetch(`/v1/rooms/${encodeURIComponent(room)}/skus`, {
      headers: { Authorization: `Bearer ${state.token}` },
    });
    const body = await res.json().catch(() => null);
    if (!res.ok) {
      const err = body?.error ?? {};
      toast('error', `Could not load the products (${err.code ?? res.status})`, err.message ?? '');
      if (res.status === 401) showTokenError(err.message ?? 'The token was refused.');
      return;
    }
    state.skus.clear();
    for (const s of body.skus ?? []) state.skus.set(s.sku_id, s);
    renderProducts();
    if (!state.selected && state.skus.size) {
      const first = [...state.skus.values()].find(available) ?? [...state.skus.values()][0];
      select(first.sku_id);
    }
  } catch (e) {
    toast('error', 'Could not load the products', String(e.message ?? e));
  }
}

const available = (s) => s.on_sale && s.stock_left > 0;

function badgeFor(s) {
  if (!s.on_sale) return el('span', { class: 'badge badge-off', text: 'Off sale' });
  if (s.stock_left <= 0) return el('span', { class: 'badge badge-soldout', text: 'Sold out 已售罄' });
  if (s.stock_left <= 10) return el('span', { class: 'badge badge-low', text: `Only ${s.stock_left} left` });
  return null;
}

function renderProducts() {
  const box = $('products');
  box.replaceChildren();
  for (const s of state.skus.values()) {
    const selected = state.selected === s.sku_id;
    const card = el('article', {
      class: `product${available(s) ? '' : ' unavailable'}${selected ? ' selected' : ''}`,
      'data-sku': s.sku_id,
    },
    el('div', { class: 'product-art', 'aria-hidden': 'true' },
      el('span', { text: Array.from(s.name || s.sku_id)[0] })),
    el('div', { class: 'product-body' },
      el('h3', { class: 'product-name', text: s.name }),
      el('div', { class: 'product-price-row' },
        el('span', { class: 'product-price', text: yuan(s.price) }), badgeFor(s)),
      el('div', { class: 'product-meta muted' },
        el('span', { class: 'stock', text: `${s.stock_left.toLocaleString('en-US')} in stock` }),
        el('span', { class: 'mono', text: s.sku_id })),
      el('button', {
        type: 'button', class: `choose ${selected ? 'primary' : 'secondary'}`, disabled: !available(s),
        onclick: () => select(s.sku_id),
      }, available(s) ? (selected ? 'Selected ✓' : 'Choose') : 'Unavailable')));
    box.append(card);
  }
  $('products-empty').hidden = state.skus.size > 0;
}

function select(skuId) {
  state.selected = skuId;
  renderProducts();
  renderSelected();
}

// How many of the SKU this viewer may still order: its limit_per_user less
// what the orders this page knows of hold (the validator decides anyway,
// with LIMIT_EXCEEDED; this keeps the page from sending a doomed order).
function quantityCap(s) {
  if (!s) return 999;
  if (typeof s.limit_per_user !== 'number') return 999;
  let held = 0;
  for (const o of state.orders.values()) {
    if (o.sku_id === s.sku_id && HOLDS.has(o.status)) held += o.qty ?? 0;
  }
  return Math.max(0, Math.min(999, s.limit_per_user - held));
}

function renderLimit() {
  const s = state.skus.get(state.selected);
  const cap = quantityCap(s);
  const qty = $('qty');
  qty.max = String(Math.max(1, cap));
  const hint = $('qty-limit');
  if (!s || typeof s.limit_per_user !== 'number') {
    hint.textContent = '';
    hint.hidden = true;
    return;
  }
  const held = s.limit_per_user - cap;
  hint.hidden = false;
  hint.dataset.cap = String(cap);
  hint.textContent = cap === 0
    ? `Limit ${s.limit_per_user} per person: your orders hold them all.`
    : `Limit ${s.limit_per_user} per person${held > 0 ? `, ${cap} left for you` : ''}.`;
}

function renderSelected() {
  const s = state.skus.get(state.selected);
  // A quantity above what may be ordered comes down to it.
  const cap = quantityCap(s);
  if (cap > 0 && Number($('qty').value) > cap) $('qty').value = String(cap);
  const box = $('selected');
  if (!s) {
    box.replaceChildren(el('span', { class: 'muted', text: 'Choose a product on the left.' }));
  } else {
    box.replaceChildren(
      el('div', { class: 'selected-name', text: s.name }),
      el('div', { class: 'muted' }, `${yuan(s.price)} each · `, el('span', { class: 'mono', text: s.sku_id })),
      badgeFor(s) ?? '');
  }
  updateTotal();
}

function orderAmounts() {
  const s = state.skus.get(state.selected);
  const qty = Number($('qty').value);
  if (!s || !Number.isInteger(qty) || qty < 1 || qty > 999) return null;
  const cap = quantityCap(s);
  if (qty > cap) {
    return { error: cap === 0 ? `You already hold the limit of ${s.limit_per_user} of this product.`
      : `At most ${cap} of this product: the limit is ${s.limit_per_user} per person.` };
  }
  const subtotal = s.price * qty;
  const couponText = $('coupon-value').value.trim();
  const discount = couponText ? yuanToFen(couponText) : 0;
  if (discount === null) return { error: 'The coupon value is not an amount like 10.00.' };
  return { sku: s, qty, unit_price: s.price, amount: Math.max(0, subtotal - discount), subtotal, discount };
}

function updateTotal() {
  const a = orderAmounts();
  const s = state.skus.get(state.selected);
  renderLimit();
  $('total').textContent = a && !a.error ? yuan(a.amount) : '—';
  $('buy').disabled = !s || !available(s) || quantityCap(s) === 0;
}

// ---- placing orders ---------------------------------------------------------

function formError(text) {
  $('form-error').textContent = text ?? '';
  $('form-error').hidden = !text;
}

function placeOrder(ev) {
  ev.preventDefault();
  formError(null);
  const a = orderAmounts();
  if (a?.error) return formError(a.error);
  const form = $('buy-form');
  if (!form.checkValidity()) {
    const bad = form.querySelector(':invalid');
    formError(`Please check “${bad?.closest('label')?.firstChild?.textContent?.trim() ?? bad?.name}”.`);
    bad?.focus();
    return;
  }
  if (!a) return formError('Choose a product and a quantity from 1 to 999.');
  const coupon = $('coupon').value.trim();
  const value = (id) => $(id).value.trim();
  const coid = newClientOrderId();
  const order = {
    client_order_id: coid,
    room_id: state.claims.room,
    sku_id: a.sku.sku_id,
    qty: a.qty,
    unit_price: a.unit_price,
    amount: a.amount,
    currency: 'CNY',
    payment_method: $('payment').value,
    coupon_id: coupon || null,
    address: {
      name: value('addr-name'),
      phone: value('addr-phone'),
      province: value('addr-province'),
      city: value('addr-city'),
      district: value('addr-district') || null,
      detail: value('addr-detail'),
      postal_code: value('addr-postal') || null,
    },
  };
  state.last = { coid, order };
  upsertOrder(coid, {
    client_order_id: coid, sku_id: a.sku.sku_id, name: a.sku.name, qty: a.qty, amount: a.amount,
    status: 'sending', created_ms: Date.now(),
  });
  $('retry').disabled = false;
  $('last-coid').textContent = coid;
  submitOrder(order);
  // A double tap would be a second order with a new id: hold the button
  // until the gateway answered (or a few seconds passed).
  $('buy').disabled = true;
  setTimeout(updateTotal, 3000);
}

// The package sends it once the room is live, again after a reconnect, and
// after BUSY or RATE_LIMITED when retry_after_ms has passed; its events
// (see connect) show the answers. What comes back here is the end: the
// final result, or why the order could not be placed.
function submitOrder(order) {
  const coid = order.client_order_id;
  if (state.client?.state !== 'open') {
    toast('info', 'Not connected yet', 'The order goes out as soon as the room is live again.');
  }
  state.client.submit(order).catch((err) => {
    if (err?.code === 'CLOSED') return; // left the room
    const o = state.orders.get(coid);
    if (o && !o.order_id) upsertOrder(coid, { status: 'not_placed', code: err.code ?? null, message: err.message });
    const wait = err?.retryAfterMs ? ` Try again in ${Math.ceil(err.retryAfterMs / 1000)} s.` : '';
    const retryable = ['BUSY', 'RATE_LIMITED', 'UNAVAILABLE'].includes(err?.code);
    toast('error', `${err?.code ?? 'Error'}`, `${ERROR_TEXT[err?.code] ?? err?.message ?? ''}${wait}${retryable ? ' “Retry last order” is safe.' : ''}`);
    updateTotal();
  });
}

function retryLast() {
  if (!state.last) return;
  const { coid, order } = state.last;
  const o = state.orders.get(coid);
  if (o && rank(o.status) < 0) upsertOrder(coid, { status: 'sending' });
  submitOrder(order);
  toast('info', 'Order sent again', `Same order id ${coid}: it cannot be placed twice.`);
}

// ---- the buyer's orders -----------------------------------------------------

function storageKey() {
  return `livegate.orders.${state.claims.room}.${state.claims.sub}`;
}

// Only order summaries are kept (no name, phone or address), so a reload can
// ask the gateway for the orders' results with order.query.
function loadOrders() {
  state.orders.clear();
  try {
    const saved = JSON.parse(localStorage.getItem(storageKey()) ?? '[]');
    for (const o of saved) if (o?.client_order_id) state.orders.set(o.client_order_id, o);
  } catch {}
}

function saveOrders() {
  const recent = [...state.orders.values()].slice(-50);
  try {
    localStorage.setItem(storageKey(), JSON.stringify(recent));
  } catch {}
}

function upsertOrder(coid, patch) {
  const prev = state.orders.get(coid) ?? { client_order_id: coid, created_ms: Date.now() };
  const next = { ...prev, ...patch };
  // Answers can come late or twice (a duplicate replays them; order.query
  // races the push): a status only moves forward along the contract's moves.
  if (patch.status && rank(patch.status) < rank(prev.status)) next.status = prev.status;
  state.orders.delete(coid);
  state.orders.set(coid, next);
  saveOrders();
  renderOrders();
  return next;
}

function findByOrderId(orderId) {
  for (const o of state.orders.values()) if (o.order_id === orderId) return o;
  return null;
}

function renderOrders() {
  const list = $('my-orders');
  list.replaceChildren();
  const orders = [...state.orders.values()].reverse();
  for (const o of orders) {
    const status = o.status ?? 'unknown';
    list.append(el('li', { class: `order order-${status}`, 'data-coid': o.client_order_id, 'data-order-id': o.order_id ?? '' },
      el('div', { class: 'order-main' },
        el('span', { class: 'order-name', text: `${o.name ?? o.sku_id ?? 'Order'} × ${o.qty ?? '?'}` }),
        el('span', { class: 'order-amount', text: yuan(o.amount) })),
      el('div', { class: 'order-sub' },
        el('span', { class: `status status-${status}`, 'data-status': status, text: STATUS_TEXT[status] ?? status }),
        o.code ? el('span', { class: 'order-code', text: o.code }) : null,
        o.priority === 'high' ? el('span', { class: 'chip', text: 'priority' }) : null),
      el('div', { class: 'order-ids muted mono small', text: o.order_id ? `${o.order_id} · ${clockTime(o.created_ms)}` : `${o.client_order_id} · ${clockTime(o.created_ms)}` }),
      o.message && status === 'rejected' ? el('div', { class: 'order-message small', text: o.message }) : null));
  }
  $('orders-empty').hidden = orders.length > 0;
}

// What changed in a sku.update, as one line of the room's activity.
function activityText(prev, next) {
  if (prev.on_sale && !next.on_sale) return 'is off sale';
  if (!prev.on_sale && next.on_sale) return `is on sale again, ${next.stock_left} in stock`;
  if (prev.price !== undefined && next.price !== prev.price) return `now ${yuan(next.price)}`;
  if (next.stock_left <= 0) return 'sold out';
  if (next.stock_left > (prev.stock_left ?? 0)) return `restocked: ${next.stock_left} in stock`;
  return `${next.stock_left} left`;
}

function noteActivity(prev, next) {
  const list = $('activity');
  list.prepend(el('li', { class: next.stock_left <= 0 || !next.on_sale ? 'activity-out' : '' },
    el('span', { class: 'muted small mono', text: clockTime(Date.now()) }),
    el('span', { class: 'activity-name', text: next.name }),
    el('span', { text: activityText(prev, next) })));
  while (list.children.length > 8) list.lastElementChild.remove();
  $('activity-empty').hidden = true;
}

// ---- the WebSocket ----------------------------------------------------------

const ERROR_TEXT = {
  BUSY: 'The room is very busy right now.',
  RATE_LIMITED: 'Too many orders in a short time.',
  UNAVAILABLE: 'The shop cannot take orders this moment.',
  IDEMPOTENCY_CONFLICT: 'This order id was already used for a different order.',
  FORBIDDEN: 'This token may not place orders.',
};

function onAccepted(m) {
  const o = upsertOrder(m.client_order_id, { order_id: m.order_id, priority: m.priority, status: 'queued', code: null });
  if (m.duplicate) toast('info', 'Already placed', `Order ${m.order_id} was received before; nothing was ordered twice.`);
  else toast('success', 'Order accepted', `${o.name ?? m.order_id}: checking stock…`);
  updateTotal();
}

// The package announces each order's result once (a duplicate submit's
// replay resolves the submit but is no second event).
function onConfirmed(m) {
  const before = state.orders.get(m.client_order_id)?.status;
  const o = upsertOrder(m.client_order_id, { order_id: m.order_id, status: m.status ?? 'pending_payment', amount: m.amount, pay_deadline_ms: m.pay_deadline_ms });
  if (before !== o.status) toast('success', 'Order confirmed', `${o.name ?? m.order_id} · ${yuan(m.amount)} · pay by ${clockTime(m.pay_deadline_ms)}`);
  updateTotal();
}

function onRejected(m) {
  if (m.client_order_id && state.orders.has(m.client_order_id)) {
    upsertOrder(m.client_order_id, { order_id: m.order_id ?? null, status: m.order_id || m.code !== 'INVALID_FIELD' ? 'rejected' : 'not_placed', code: m.code, message: m.message });
  }
  toast('error', `Order rejected: ${m.code}`, [m.field ? `${m.field}: ` : '', m.message ?? ''].join(''));
  if (m.code === 'INVALID_FIELD' && !m.order_id) formError(`${m.field}: ${m.message}`);
  updateTotal();
}

function onStatus(m) {
  const known = (m.client_order_id && state.orders.get(m.client_order_id)) || findByOrderId(m.order_id);
  const coid = known?.client_order_id ?? m.client_order_id;
  if (coid) upsertOrder(coid, { order_id: m.order_id, status: m.status });
  if (known?.status !== m.status) toast('info', `Order ${STATUS_TEXT[m.status] ?? m.status}`, known?.name ? `${known.name} × ${known.qty}` : m.order_id);
  updateTotal();
}

// order.query's answers, which the package asks after every auth.ok for the
// orders it tracks (this page's saved open orders among them).
function onOrderState(m) {
  if (!state.orders.has(m.client_order_id)) return;
  upsertOrder(m.client_order_id, {
    order_id: m.order_id ?? undefined,
    status: m.status === 'unknown' ? 'not_placed' : m.status,
    code: m.code ?? null,
  });
  updateTotal();
}

function onSkuUpdate(m) {
  if (m.room_id && m.room_id !== state.claims.room) return;
  const prev = state.skus.get(m.sku_id) ?? { sku_id: m.sku_id, name: m.sku_id };
  const next = { ...prev, stock_left: m.stock_left, on_sale: m.on_sale, price: m.price ?? prev.price };
  state.skus.set(m.sku_id, next);
  renderProducts();
  if (state.selected === m.sku_id) renderSelected();
  if (available(prev) && !available(next)) toast('info', `${next.name}: ${next.on_sale ? 'sold out' : 'off sale'}`);
  noteActivity(prev, next);
}

// BUSY or RATE_LIMITED (or UNAVAILABLE): the package sends the same order
// again after retry_after_ms; say so.
function onRetry(r) {
  const wait = Math.max(1, Math.ceil(r.delay_ms / 1000));
  toast('info', `${r.code}: trying again in ${wait} s`, `${ERROR_TEXT[r.code] ?? ''} Same order id: it cannot be placed twice.`);
}

function connect() {
  state.client?.close();
  const client = new LivegateClient({ token: state.token });
  let auths = 0;
  client.on('connection', (ev) => {
    showSocketState($('conn-state'), ev.state, ev.state === 'unauthorized' ? ev.reason : ev);
    if (ev.state === 'unauthorized') {
      showTokenError(`The gateway refused the token: ${ev.reason ?? 'unauthorized'}.`);
    }
  });
  // catch up on stock missed while away (order results are the package's)
  client.on('auth', () => { if (auths++ > 0) loadProducts(); });
  client.on('accepted', onAccepted);
  client.on('confirmed', onConfirmed);
  client.on('rejected', onRejected);
  client.on('status', onStatus);
  client.on('order.state', onOrderState);
  client.on('sku.update', onSkuUpdate);
  client.on('retry', onRetry);
  client.on('error', (err) => toast('error', err.code ?? 'Error', err.message ?? ''));
  // The saved orders whose result or status may still change: asked for
  // with order.query after every auth.ok.
  client.track([...state.orders.values()].filter((o) => !SETTLED.has(o.status) && o.status !== 'not_placed')
    .map((o) => ({ client_order_id: o.client_order_id, status: RANK[o.status] >= 0 ? o.status : null })).slice(-100));
  state.client = client;
  client.connect().catch(() => {}); // a refused token shows through 'connection'
}

// ---- start ------------------------------------------------------------------

$('token-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  $('token-error').hidden = true;
  useToken($('token-input').value);
});
$('change-token').addEventListener('click', leaveRoom);
$('buy-form').addEventListener('submit', placeOrder);
$('retry').addEventListener('click', retryLast);
for (const id of ['qty', 'coupon-value']) $(id).addEventListener('input', updateTotal);

const fromFragment = readFragment().token;
if (fromFragment) useToken(fromFragment);
else showSocketState($('conn-state'), 'idle');
