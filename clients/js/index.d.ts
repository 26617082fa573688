// Type declarations of @livegate/client (index.js). The frames are those of
// docs/PROTOCOL.md; fields the contract may add later are allowed through
// the index signatures.

export declare const VERSION: string;

/** 1 to 64 characters from [A-Za-z0-9_.:-]. */
export declare function isId(s: unknown): s is string;
/** prefix (default "c-") + a random UUID, or 32 random hex digits. */
export declare function newClientOrderId(prefix?: string): string;

export interface BackoffOptions {
  /** first ceiling, ms (default 500) */
  baseMs?: number;
  /** largest ceiling, ms (default 10000) */
  maxMs?: number;
  /** growth per attempt (default 2) */
  factor?: number;
}
/** Uniform in [ceiling/2, ceiling], ceiling = min(maxMs, baseMs * factor^(attempt-1)). */
export declare function backoffDelay(attempt: number, options?: BackoffOptions, random?: () => number): number;
/** retry_after_ms + 1 + up to a tenth more (at most 250 ms): never sooner than asked. */
export declare function retryDelay(retryAfterMs: number, random?: () => number): number;
/** Uniform in [lo, hi] (default [150, 750]): the pause after close 1001. */
export declare function goingAwayDelay(range?: [number, number], random?: () => number): number;

export type ErrorCode =
  | 'UNAUTHORIZED' | 'BAD_REQUEST' | 'FORBIDDEN' | 'BUSY' | 'RATE_LIMITED' | 'UNAVAILABLE'
  | 'IDEMPOTENCY_CONFLICT' | 'INVALID_FIELD' | 'INVALID_TRANSITION' | 'NOT_FOUND'
  // the client's own
  | 'CLOSED' | 'CONNECTION_LOST' | 'SUPERSEDED' | 'TOKEN' | 'CONNECT';

export interface ErrorFrame {
  type: 'error';
  code: string;
  message?: string;
  req?: string;
  ref?: string;
  field?: string | null;
  retry_after_ms?: number;
  [extra: string]: unknown;
}

export declare class LivegateError extends Error {
  constructor(code: string, message?: string, frame?: ErrorFrame | null);
  readonly name: 'LivegateError';
  /** the contract's code (ErrorCode), or one of the client's own */
  readonly code: ErrorCode | string;
  /** the error frame, when the gateway sent one */
  readonly frame: ErrorFrame | null;
  readonly field: string | null;
  readonly retryAfterMs: number | null;
}

export type PaymentMethod = 'alipay' | 'wechat_pay' | 'card' | 'cod';
export type OrderStatus =
  | 'queued' | 'pending_payment' | 'rejected' | 'paid' | 'shipped' | 'delivered' | 'cancelled';

export interface Address {
  name: string;
  phone: string;
  province: string;
  city: string;
  district?: string | null;
  detail: string;
  postal_code?: string | null;
}

export interface OrderInput {
  /** generated (newClientOrderId()) when absent */
  client_order_id?: string;
  /** the session's room when absent */
  room_id?: string;
  sku_id: string;
  qty: number;
  /** fen */
  unit_price: number;
  /** fen; unit_price * qty when absent and there is no coupon */
  amount?: number;
  /** "CNY" when absent */
  currency?: 'CNY';
  payment_method: PaymentMethod;
  coupon_id?: string | null;
  address: Address;
}

export interface AuthOk {
  type: 'auth.ok';
  user_id: string;
  room_id: string;
  role: 'viewer' | 'operator' | 'admin';
  session_id: string;
  server_time_ms: number;
  req?: string;
  [extra: string]: unknown;
}

export interface OrderAccepted {
  type: 'order.accepted';
  client_order_id: string;
  order_id: string;
  priority: 'high' | 'normal';
  duplicate: boolean;
  accepted_at_ms: number;
  req?: string;
  [extra: string]: unknown;
}

export interface OrderConfirmed {
  type: 'order.confirmed';
  client_order_id: string;
  order_id: string;
  status: OrderStatus;
  amount?: number;
  confirmed_at_ms?: number;
  pay_deadline_ms?: number;
  req?: string;
  /** true when built from order.query (the pushed result never came) */
  recovered?: true;
  [extra: string]: unknown;
}

export interface OrderRejected {
  type: 'order.rejected';
  client_order_id: string | null;
  /** absent for a broken field rule: nothing was queued */
  order_id?: string | null;
  code: string;
  field?: string | null;
  message?: string;
  status?: OrderStatus;
  req?: string;
  recovered?: true;
  [extra: string]: unknown;
}

export type OrderResult = OrderConfirmed | OrderRejected;

export interface OrderStatusPush {
  type: 'order.status';
  order_id: string;
  client_order_id: string | null;
  status: OrderStatus;
  at_ms: number;
  [extra: string]: unknown;
}

export interface OrderState {
  type: 'order.state';
  client_order_id: string;
  order_id: string | null;
  status: OrderStatus | 'unknown';
  code: string | null;
  req?: string;
  [extra: string]: unknown;
}

export interface SkuUpdate {
  type: 'sku.update';
  room_id: string;
  sku_id: string;
  stock_left: number;
  on_sale: boolean;
  price: number;
  [extra: string]: unknown;
}

export interface MonitorStats {
  type: 'monitor.stats';
  room_id: string;
  ts_ms: number;
  connections: number;
  orders: {
    received: number; accepted: number; duplicates: number; confirmed: number; rejected: number;
    busy: number; rate_limited: number; [extra: string]: number;
  };
  rejected_by_code: Record<string, number>;
  gmv_fen: number;
  queue: {
    high: number; normal: number; oldest_age_ms: number; drain_per_s: number | null;
    predicted_wait_ms: { high: number; normal: number } | null;
  };
  latency_ms: {
    accept_p50: number; accept_p99: number; confirm_p50: number; confirm_p99: number; confirm_max: number;
  };
  sla_violations: number;
  opened_at_ms: number;
  feed_dropped: number;
  req?: string;
  [extra: string]: unknown;
}

export interface MonitorOrder {
  type: 'monitor.order';
  room_id: string;
  order_id: string;
  client_order_id?: string | null;
  status: OrderStatus;
  from?: OrderStatus;
  code?: string;
  sku_id?: string;
  qty?: number;
  amount?: number;
  priority?: 'high' | 'normal';
  buyer?: string;
  phone?: string;
  at_ms: number;
  dropped?: number;
  [extra: string]: unknown;
}

export interface OrderUpdated {
  type: 'order.updated';
  order_id: string;
  status: OrderStatus;
  req?: string;
  [extra: string]: unknown;
}

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'unauthorized' | 'closed';

export interface ConnectionEvent {
  state: ConnectionState;
  /** connecting: the attempt since the last auth.ok */
  attempt?: number;
  /** open: the auth.ok */
  session?: AuthOk;
  /** reconnecting, unauthorized: the close code (null when no socket opened) */
  code?: number | null;
  reason?: string;
  /** reconnecting: the pause before the next attempt */
  delayMs?: number;
}

export interface RetryEvent {
  client_order_id: string;
  code: 'BUSY' | 'RATE_LIMITED' | 'UNAVAILABLE';
  retry_after_ms: number | null;
  /** the pause before the same frame goes again: at least retry_after_ms */
  delay_ms: number;
  attempt: number;
  frame: ErrorFrame;
}

export interface LivegateEvents {
  connection: ConnectionEvent;
  auth: AuthOk;
  accepted: OrderAccepted;
  confirmed: OrderConfirmed;
  rejected: OrderRejected;
  status: OrderStatusPush;
  'order.state': OrderState;
  'sku.update': SkuUpdate;
  retry: RetryEvent;
  stats: MonitorStats;
  feed: MonitorOrder;
  updated: OrderUpdated;
  error: LivegateError;
  /** every frame received, before the client acts on it */
  message: { type: string; [field: string]: unknown };
}

/** Anything constructed like the browser's WebSocket: the global one, or `ws`. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface LivegateClientOptions {
  /** a token, or a function asked for one before every (re)connect */
  token: string | (() => string | Promise<string>);
  /** ws(s)://host/v1/ws; in a page, the page's host by default */
  url?: string | (() => string);
  /** the WebSocket to use; globalThis.WebSocket by default */
  WebSocket?: WebSocketConstructor | (new (url: string) => unknown);
  /** backoff between reconnect attempts (default 500 ms doubling to 10 s) */
  reconnect?: BackoffOptions;
  /** the pause after close 1001, [lo, hi] ms (default [150, 750]) */
  goingAwayMs?: [number, number];
  /** a connection without auth.ok by then is dropped and tried again (default 10000) */
  connectTimeoutMs?: number;
  /** BUSY / RATE_LIMITED / UNAVAILABLE retries of one submit (default 20) */
  maxRetries?: number;
  /** submits sent and not yet answered on one connection (default 32) */
  maxInFlight?: number;
  /** after order.accepted, ask order.query when no result came by then (default 12000) */
  resultTimeoutMs?: number;
  /** tokens refused at auth before giving up (default 1 with a callback, 0 with a string) */
  authRetries?: number;
  /** order.query for tracked orders after every auth.ok (default true) */
  recover?: boolean;
  /** the random source of jitter (default Math.random) */
  random?: () => number;
}

export declare class LivegateClient {
  constructor(options: LivegateClientOptions);
  readonly state: ConnectionState;
  /** the auth.ok of the current connection, or null while not connected */
  readonly session: AuthOk | null;
  /** client_order_ids submitted and not yet answered with a final result */
  readonly inFlight: string[];
  /** tracked client_order_ids and their last known status (null: not known yet) */
  readonly tracked: Map<string, OrderStatus | null>;

  on<K extends keyof LivegateEvents>(type: K, listener: (event: LivegateEvents[K]) => void): () => void;
  once<K extends keyof LivegateEvents>(type: K, listener: (event: LivegateEvents[K]) => void): () => void;
  off<K extends keyof LivegateEvents>(type: K, listener: (event: LivegateEvents[K]) => void): void;

  /** starts the client (once); resolves with the first auth.ok */
  connect(): Promise<AuthOk>;
  /** ends it for good; whatever still waits is rejected with code CLOSED */
  close(): void;

  /** resolves with the final result; rejects with a LivegateError when the order cannot be placed */
  submit(order: OrderInput): Promise<OrderResult>;
  /** order.query; one order.state per id, in order (any number of ids, 100 a frame) */
  query(clientOrderIds: string | string[]): Promise<OrderState[]>;
  /** asks for these orders with order.query after every auth.ok, until they settle */
  track(orders: string | { client_order_id: string; status?: OrderStatus | null } | Array<string | { client_order_id: string; status?: OrderStatus | null }>): void;
  untrack(clientOrderId: string): void;

  /** monitor.subscribe (renewed after every reconnect); resolves with the answering monitor.stats */
  subscribeMonitor(roomId: string): Promise<MonitorStats>;
  /** order.update; resolves with order.updated */
  updateOrder(orderId: string, status: 'paid' | 'shipped' | 'delivered' | 'cancelled'): Promise<OrderUpdated>;
}

export default LivegateClient;
