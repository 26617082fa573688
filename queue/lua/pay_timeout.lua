-- pay_timeout.lua: cancel a room's orders still pending_payment at their
-- payment deadline, atomically; the validators' drain (validator/pay_timeout.c).
--
-- Why: validate.lua confirms an order as pending_payment with
-- pay_deadline_ms and locks its stock; without this an unpaid order would
-- hold that stock for ever. Why one script: "still pending_payment?" and
-- "now cancelled, stock and per-user quantity given back" must be one step,
-- so that several validators draining the same room cancel an order once and
-- a payment (transition.lua) cannot land between the check and the cancel.
--
-- Which orders: validate.lua adds each order it confirms to the room's due
-- index (a sorted set, score = pay_deadline_ms, member = order id) and
-- transition.lua removes it when the order is paid or cancelled, so this
-- call reads only entries already due (score <= Redis's now), at most
-- ARGV[5] of them, and never scans the room's orders. Every entry read
-- leaves the index: a due order whose record says anything but
-- pending_payment (paid, cancelled, gone) is only dropped; one whose record
-- names a later deadline than its score is put back under that deadline.
--
-- The race with a payment (the rule, one way): the deadline decides.
-- transition.lua refuses pending_payment -> paid once Redis's clock has
-- reached pay_deadline_ms, and this script cancels from that same moment,
-- so a payment at or after the deadline never succeeds, whichever script
-- runs first, and a payment before it always does (it leaves the index).
--
-- A cancel does what transition.lua's cancel does: the qty back on the
-- SKU's stock (when the SKU still exists), off the buyer's live quantity of
-- the SKU (limit_per_user lets the buyer order again), an audit entry with
-- the actor "system" (role "system": no person did it), and the lg:ev:status
-- event every gateway tells the buyer from (order.status cancelled), in
-- backoffice's shape plus "reason":"pay_timeout". The coupon stays used, as
-- on any cancel. The record keeps its TTL. The caller announces the stock
-- change (sku_notify) for the SKUs returned.
--
-- Record, SKU and live-quantity keys are built here from the prefixes in
-- ARGV and the index's order ids (as expire.lua does): they carry the room's
-- hash tag like KEYS, so the script touches one Redis Cluster slot.
--
-- KEYS[1] due index      lg:{room}:paydue   (sorted set, pay_deadline_ms -> order id)
-- KEYS[2] audit trail    lg:{room}:audit    (stream, capped)
-- KEYS[3] room totals    lg:{room}:stats    (hash; "pay_timeouts" counts the cancels)
-- ARGV[1] room id   ARGV[2] order key prefix lg:{room}:order:
-- ARGV[3] sku key prefix lg:{room}:sku:   ARGV[4] live key prefix lg:{room}:live:
-- ARGV[5] at most this many due entries per call (1..1000)
-- ARGV[6] most audit entries kept (exact MAXLEN)
-- ARGV[7] the status channel (lg:ev:status)   ARGV[8] the totals' TTL (s)
-- ARGV[9] (optional) "room_deleted": a DELETE of the room with
--         ?unpaid=cancel (gateway/features/room_delete.c) cancels every
--         order of the index, due or not, with that reason (in the record,
--         the audit entry and the event); such cancels are not counted in
--         pay_timeouts. The rest is the same.
--
-- Returns {cancelled, more, next_due_in_ms, sku_id...}: how many orders this
-- call cancelled; 1 when it stopped at ARGV[5] entries (call again), else 0;
-- the ms until the earliest entry left in the index is due (0: due now, -1:
-- the index is empty); then the SKU of each cancelled order, once each.

-- needs: order_record
-- needs: live_qty

-- Checked before anything is written: a bad call changes nothing (and no
-- command can fail on an argument halfway through the cancels).
local function count_arg(v)
  return type(v) == 'string' and string.match(v, '^[1-9]%d?%d?%d?%d?%d?%d?%d?%d?$') and tonumber(v)
end
local batch, keep, ttl = count_arg(ARGV[5]), count_arg(ARGV[6]), count_arg(ARGV[8])
local deleting = ARGV[9] == 'room_deleted'
if #KEYS ~= 3 or not (#ARGV == 8 or (#ARGV == 9 and deleting)) or not (batch and keep and ttl) or
    batch > 1000 or ARGV[1] == '' or ARGV[7] == '' then
  return redis.error_reply('ERR pay_timeout.lua: bad arguments')
end
local K_DUE, K_AUDIT, K_STATS = KEYS[1], KEYS[2], KEYS[3]
local room_id, order_prefix, sku_prefix, live_prefix = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local channel = ARGV[7]
local reason = deleting and 'room_deleted' or 'pay_timeout'

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local now_s = string.format('%d', now)

local function give_back(sku_id, user, qty)
  local k_sku = sku_prefix .. sku_id
  if redis.call('EXISTS', k_sku) == 1 then
    redis.call('HINCRBY', k_sku, 'stock', qty)
  end
  local k_live = live_prefix .. user
  live_qty_put_back(k_live, sku_id, tonumber(redis.call('HGET', k_live, sku_id) or '0'), qty)
end

local function announce(order_id, o)
  redis.call('XADD', K_AUDIT, 'MAXLEN', ARGV[6], '*', 'at_ms', now_s, 'actor', 'system',
             'role', 'system', 'order_id', order_id, 'from', 'pending_payment',
             'to', 'cancelled', 'reason', reason)
  redis.call('PUBLISH', channel, cjson.encode({
    room = room_id, user = o.user, order_id = order_id, client_order_id = o.client_order_id or '',
    status = 'cancelled', from = 'pending_payment', at_ms = now, sku_id = o.sku_id,
    qty = tonumber(o.qty) or 0, amount = tonumber(o.amount or '0') or 0, priority = o.priority or '',
    buyer = o.buyer or '', phone = o.phone or '', reason = reason}))
end

-- Cancels one due order if its record still says so; its SKU when it did.
local settle_names = {'priority', 'pay_deadline_ms'}
local function settle(order_id)
  redis.call('ZREM', K_DUE, order_id)
  local k_order = order_prefix .. order_id
  local o = order_read(k_order, settle_names)
  if o.status ~= 'pending_payment' or not o.user or not o.sku_id then
    return nil
  end
  local deadline = tonumber(o.pay_deadline_ms or '')
  if deadline and deadline > now and not deleting then
    redis.call('ZADD', K_DUE, o.pay_deadline_ms, order_id)
    return nil
  end
  redis.call('HSET', k_order, 'status', 'cancelled', 'cancelled_at_ms', now_s,
             'updated_at_ms', now_s, 'cancel_reason', reason)
  give_back(o.sku_id, o.user, tonumber(o.qty) or 0)
  announce(order_id, o)
  return o.sku_id
end

local due
if deleting then
  due = redis.call('ZRANGE', K_DUE, 0, batch - 1)
else
  due = redis.call('ZRANGEBYSCORE', K_DUE, '-inf', now_s, 'LIMIT', '0', ARGV[5])
end
local cancelled, skus, seen = 0, {}, {}
for _, order_id in ipairs(due) do
  local sku_id = settle(order_id)
  if sku_id then
    cancelled = cancelled + 1
    if not seen[sku_id] then
      seen[sku_id] = true
      skus[#skus + 1] = sku_id
    end
  end
end
if cancelled > 0 and not deleting then
  redis.call('HINCRBY', K_STATS, 'pay_timeouts', cancelled)
  redis.call('EXPIRE', K_STATS, ttl)
end

local next_in = -1
local first = redis.call('ZRANGE', K_DUE, 0, 0, 'WITHSCORES')
if first[2] then
  next_in = math.max(0, tonumber(first[2]) - now)
end
local out = {cancelled, #due == batch and 1 or 0, next_in}
for i = 1, #skus do
  out[#out + 1] = skus[i]
end
return out
