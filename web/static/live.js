// live.js - the demo live room. Loads the room's products over HTTP with
// the viewer's token, then speaks the WebSocket contract: order.submit with
// a fresh client_order_id per purchase (a retry resends the very same frame,
// so the gateway answers it as a duplicate instead of ordering twice),
// results and order.status for the buyer's orders, sku.update for stock.
import {
  LiveSocket, clockTime, el, randomId, readFragment, showSocketState, toast, tokenClaims,
  writeFragment, yuan, yuanToFen,
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

const state = {
  token: null,
  claims: null,
  socket: null,
  skus: new Map(), // sku_id -> {sku_id, name, price, stock_left, on_sale}
  selected: null,
  orders: new Map(), // client_order_id -> order summary (no personal data)
  last: null, // { coid, frame }: the last submit, resent as is by Retry
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
  state.socket?.stop();
  state.socket = null;
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

function renderSelected() {
  const s = state.skus.get(state.selected);
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
  const subtotal = s.price * qty;
  const couponText = $('coupon-value').value.trim();
  const discount = couponText ? yuanToFen(couponText) : 0;
  if (discount === null) return { error: 'The coupon value is not an amount like 10.00.' };
  return { sku: s, qty, unit_price: s.price, amount: Math.max(0, subtotal - discount), subtotal, discount };
}

function updateTotal() {
  const a = orderAmounts();
  const s = state.skus.get(state.selected);
  $('total').textContent = a && !a.error ? yuan(a.amount) : '—';
  $('buy').disabled = !s || !available(s);
}

// ---- placing orders ---------------------------------------------------------

function formError(text) {
  $('form-error').textContent = text ?? '';
  $('form-error').hidden = !text;
}

function placeOrder(ev) {
  ev.preventDefault();
  formError(null);
  const form = $('buy-form');
  if (!form.checkValidity()) {
    const bad = form.querySelector(':invalid');
    formError(`Please check “${bad?.closest('label')?.firstChild?.textContent?.trim() ?? bad?.name}”.`);
    bad?.focus();
    return;
  }
  const a = orderAmounts();
  if (!a) return formError('Choose a product and a quantity from 1 to 999.');
  if (a.error) return formError(a.error);
  const coupon = $('coupon').value.trim();
  const value = (id) => $(id).value.trim();
  const coid = randomId('c-');
  const frame = JSON.stringify({
    type: 'order.submit',
    req: `s-${coid.slice(2, 14)}`,
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
  });
  state.last = { coid, frame };
  upsertOrder(coid, {
    client_order_id: coid, sku_id: a.sku.sku_id, name: a.sku.name, qty: a.qty, amount: a.amount,
    status: 'sending', created_ms: Date.now(),
  });
  $('retry').disabled = false;
  $('last-coid').textContent = coid;
  sendFrame(frame, coid);
  // A double tap would be a second order with a new id: hold the button
  // until the gateway answered (or a few seconds passed).
  $('buy').disabled = true;
  setTimeout(updateTotal, 3000);
}

function sendFrame(frame, coid) {
  if (!state.socket?.send(frame)) {
    upsertOrder(coid, { status: 'not_placed' });
    toast('error', 'Not connected', 'The order was not sent. Press “Retry last order” once the room is live again.');
  }
}

function retryLast() {
  if (!state.last) return;
  const { coid, frame } = state.last;
  const o = state.orders.get(coid);
  if (o && rank(o.status) < 0) upsertOrder(coid, { status: 'sending' });
  sendFrame(frame, coid);
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

// Asks for the results of orders that had no final answer yet, e.g. after a
// reconnect or a reload.
function queryOpenOrders() {
  const open = [...state.orders.values()].filter((o) => !SETTLED.has(o.status))
    .map((o) => o.client_order_id).slice(-100);
  if (open.length) state.socket.send({ type: 'order.query', req: state.socket.nextReq('q'), client_order_ids: open });
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

function onMessage(m) {
  switch (m.type) {
  case 'order.accepted': {
    const o = upsertOrder(m.client_order_id, { order_id: m.order_id, priority: m.priority, status: 'queued', code: null });
    if (m.duplicate) toast('info', 'Already placed', `Order ${m.order_id} was received before; nothing was ordered twice.`);
    else toast('success', 'Order accepted', `${o.name ?? m.order_id}: checking stock…`);
    updateTotal();
    break;
  }
  case 'order.confirmed': {
    const before = state.orders.get(m.client_order_id)?.status;
    const o = upsertOrder(m.client_order_id, { order_id: m.order_id, status: m.status ?? 'pending_payment', amount: m.amount, pay_deadline_ms: m.pay_deadline_ms });
    // a duplicate submit replays the result: say it once
    if (before !== o.status) toast('success', 'Order confirmed', `${o.name ?? m.order_id} · ${yuan(m.amount)} · pay by ${clockTime(m.pay_deadline_ms)}`);
    break;
  }
  case 'order.rejected': {
    const before = state.orders.get(m.client_order_id)?.status;
    if (before === 'rejected') break; // a replayed result
    if (m.client_order_id && state.orders.has(m.client_order_id)) {
      upsertOrder(m.client_order_id, { order_id: m.order_id ?? null, status: m.order_id || m.code !== 'INVALID_FIELD' ? 'rejected' : 'not_placed', code: m.code, message: m.message });
    }
    toast('error', `Order rejected: ${m.code}`, [m.field ? `${m.field}: ` : '', m.message ?? ''].join(''));
    if (m.code === 'INVALID_FIELD' && !m.order_id) formError(`${m.field}: ${m.message}`);
    updateTotal();
    break;
  }
  case 'order.status': {
    const known = (m.client_order_id && state.orders.get(m.client_order_id)) || findByOrderId(m.order_id);
    const coid = known?.client_order_id ?? m.client_order_id;
    if (coid) upsertOrder(coid, { order_id: m.order_id, status: m.status });
    if (known?.status !== m.status) toast('info', `Order ${STATUS_TEXT[m.status] ?? m.status}`, known?.name ? `${known.name} × ${known.qty}` : m.order_id);
    break;
  }
  case 'order.state':
    if (state.orders.has(m.client_order_id)) {
      upsertOrder(m.client_order_id, {
        order_id: m.order_id ?? undefined,
        status: m.status === 'unknown' ? 'not_placed' : m.status,
        code: m.code ?? null,
      });
    }
    break;
  case 'sku.update': {
    if (m.room_id && m.room_id !== state.claims.room) break;
    const prev = state.skus.get(m.sku_id) ?? { sku_id: m.sku_id, name: m.sku_id };
    const next = { ...prev, stock_left: m.stock_left, on_sale: m.on_sale, price: m.price ?? prev.price };
    state.skus.set(m.sku_id, next);
    renderProducts();
    if (state.selected === m.sku_id) renderSelected();
    if (available(prev) && !available(next)) toast('info', `${next.name}: ${next.on_sale ? 'sold out' : 'off sale'}`);
    noteActivity(prev, next);
    break;
  }
  case 'error': {
    const coid = m.ref;
    if (coid && state.orders.has(coid)) {
      const o = state.orders.get(coid);
      if (!o.order_id) upsertOrder(coid, { status: 'not_placed', code: m.code, message: m.message });
    }
    const wait = m.retry_after_ms ? ` Try again in ${Math.ceil(m.retry_after_ms / 1000)} s.` : '';
    toast('error', `${m.code}`, `${ERROR_TEXT[m.code] ?? m.message ?? ''}${wait}${coid ? ' “Retry last order” is safe.' : ''}`);
    updateTotal();
    break;
  }
  default:
    break;
  }
}

function connect() {
  state.socket?.stop();
  const socket = new LiveSocket({
    token: state.token,
    onAuth: () => {
      queryOpenOrders();
      if (socket.authCount++ > 0) loadProducts(); // catch up on stock missed while away
    },
    onMessage,
    onState: (s, detail) => {
      showSocketState($('conn-state'), s, detail);
      if (s === 'unauthorized') {
        showTokenError(`The gateway refused the token: ${typeof detail === 'string' ? detail : 'unauthorized'}.`);
      }
    },
  });
  socket.authCount = 0;
  state.socket = socket;
  socket.start();
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
