-- validate.lua: decide one queued order against the live catalog, atomically.
--
-- Why one script: stock, the buyer's per-user quantity, the coupon's uses
-- and the order's status must change together or not at all; two validators
-- racing for the last unit must not both win. All keys share the room's
-- hash tag.
--
-- Idempotent: an order that already has a final result is not decided
-- again; the stored result is returned, so a re-delivered entry (after a
-- validator crash) re-sends the same answer and takes nothing twice.
--
-- KEYS[1] order record        lg:{room}:order:{order_id}
-- KEYS[2] room config         lg:{room}:room
-- KEYS[3] sku                 lg:{room}:sku:{sku_id}
-- KEYS[4] coupon              lg:{room}:coupon:{coupon_id}  (unused without a coupon)
-- KEYS[5] coupon's users      lg:{room}:coupon_users:{coupon_id}
-- KEYS[6] buyer's live qty    lg:{room}:live:{user}   (hash sku_id -> qty)
-- ARGV[1] deadline (ms after acceptance)   ARGV[2] safety margin (ms)
-- ARGV[3] payment window (ms)              ARGV[4] "1" to expire regardless
-- ARGV[5] the room's monitor feed channel (lg:ev:feed:<room>), "" for none:
--         a decision made now is published there, masked, for monitor.order
-- ARGV[6..] the order record's result fields to return, in the order of
--         queue/result_layout.h (the caller passes the names, so this script
--         and its reader cannot disagree on the order)
--
-- Returns {"missing"} when the order record is gone, otherwise the values
-- of ARGV[6..] ("" for a field not set), then
--   decided_now ("1" when this call decided it),
--   stock_left (the SKU's stock after the decision, "" without a SKU).
-- stock_left lets the validator announce a sell-out at once (sku_notify);
-- the record's decided_at_ms and accepted_at_ms give the room statistics
-- their confirm latency; its watchers (comma-separated gateway ids, see
-- watch.lua) are the gateways besides the accepting one that asked for the
-- result through a duplicate submit.

local NARGS = 5

-- One read of the record for every result, decided now or stored.
local function stored_result(decided_now)
  local v = redis.call('HMGET', KEYS[1], unpack(ARGV, NARGS + 1))
  local out = {}
  for i = 1, #ARGV - NARGS do
    out[i] = v[i] or ''
  end
  out[#out + 1] = decided_now
  out[#out + 1] = redis.call('HGET', KEYS[3], 'stock') or ''
  return out
end

local function publish_decision(at)
  if not ARGV[5] or ARGV[5] == '' then
    return
  end
  local f = redis.call('HMGET', KEYS[1], 'room_id', 'order_id', 'client_order_id', 'status',
                       'code', 'sku_id', 'qty', 'amount', 'priority', 'buyer', 'phone')
  redis.call('PUBLISH', ARGV[5], cjson.encode({
    room = f[1] or '', order_id = f[2] or '', client_order_id = f[3] or '',
    status = f[4] or '', code = f[5] or '', sku_id = f[6] or '', qty = f[7] or '0',
    amount = f[8] or '0', priority = f[9] or '', buyer = f[10] or '', phone = f[11] or '',
    at_ms = tostring(at)}))
end

local o = redis.call('HMGET', KEYS[1], 'status', 'user', 'sku_id', 'qty',
                     'unit_price', 'amount', 'payment_method', 'coupon_id',
                     'accepted_at_ms')
local status = o[1]
if not status then
  return {'missing'}
end
if status ~= 'queued' then
  return stored_result('0')
end

local user, sku_id = o[2], o[3]
local qty, unit_price, amount = tonumber(o[4]), tonumber(o[5]), tonumber(o[6])
local payment_method, coupon_id = o[7], o[8] or ''
local accepted_at = tonumber(o[9])

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local function reject(code, field, message)
  redis.call('HSET', KEYS[1], 'status', 'rejected', 'code', code,
             'field', field, 'message', message, 'decided_at_ms', tostring(now))
  publish_decision(now)
  return stored_result('1')
end

if ARGV[4] == '1' or now - accepted_at > tonumber(ARGV[1]) - tonumber(ARGV[2]) then
  return reject('EXPIRED', '', 'the order could not be validated within the deadline')
end

local room = redis.call('HMGET', KEYS[2], 'status', 'payment_methods')
if room[1] ~= 'live' then
  return reject('ROOM_CLOSED', 'room_id', 'the room is not selling now')
end

local sku = redis.call('HMGET', KEYS[3], 'price', 'stock', 'limit_per_user', 'on_sale')
if not sku[1] then
  return reject('UNKNOWN_SKU', 'sku_id', 'no such product in this room')
end
if sku[4] ~= '1' then
  return reject('NOT_ON_SALE', 'sku_id', 'the product is not on sale')
end
if tonumber(sku[1]) ~= unit_price then
  return reject('PRICE_CHANGED', 'unit_price', 'the price has changed; the current price is ' .. sku[1])
end

local subtotal = unit_price * qty
local discount = 0
if coupon_id ~= '' then
  local c = redis.call('HMGET', KEYS[4], 'discount', 'min_amount', 'total', 'used')
  if not c[1] then
    return reject('COUPON_INVALID', 'coupon_id', 'no such coupon')
  end
  if tonumber(c[4] or '0') >= tonumber(c[3]) then
    return reject('COUPON_INVALID', 'coupon_id', 'the coupon is used up')
  end
  if redis.call('SISMEMBER', KEYS[5], user) == 1 then
    return reject('COUPON_INVALID', 'coupon_id', 'the coupon was already used by this buyer')
  end
  discount = tonumber(c[1])
  if subtotal < tonumber(c[2] or '0') or discount > subtotal then
    return reject('COUPON_INVALID', 'coupon_id', 'the order does not meet the coupon minimum')
  end
end
if amount ~= subtotal - discount then
  return reject('INVALID_FIELD', 'amount', 'amount must equal unit_price*qty minus the discount')
end

local allowed = false
for m in string.gmatch(room[2] or '', '[^,]+') do
  if m == payment_method then
    allowed = true
  end
end
if not allowed then
  return reject('PAYMENT_METHOD_NOT_ALLOWED', 'payment_method', 'this room does not take that payment method')
end

local limit = tonumber(sku[3] or '0')
if limit > 0 then
  local held = tonumber(redis.call('HGET', KEYS[6], sku_id) or '0')
  if held + qty > limit then
    return reject('LIMIT_EXCEEDED', 'qty', 'at most ' .. limit .. ' per buyer')
  end
end

if tonumber(sku[2]) < qty then
  return reject('OUT_OF_STOCK', 'sku_id', 'sold out')
end

redis.call('HINCRBY', KEYS[3], 'stock', -qty)
redis.call('HINCRBY', KEYS[6], sku_id, qty)
if coupon_id ~= '' then
  redis.call('HINCRBY', KEYS[4], 'used', 1)
  redis.call('SADD', KEYS[5], user)
end
redis.call('HSET', KEYS[1], 'status', 'pending_payment',
           'confirmed_at_ms', tostring(now),
           'pay_deadline_ms', tostring(now + tonumber(ARGV[3])),
           'decided_at_ms', tostring(now))
publish_decision(now)
return stored_result('1')
