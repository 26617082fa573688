-- enqueue.lua: dedup and enqueue one order, atomically.
--
-- Why one script: between "is this client_order_id new?" and "queue it" no
-- other gateway may slip in the same key, or a double tap on two gateways
-- would create two orders. All keys share the room's hash tag.
--
-- KEYS[1] idempotency key   lg:{room}:idem:{user}/{client_order_id}
-- KEYS[2] order record      lg:{room}:order:{order_id}
-- KEYS[3] room config       lg:{room}:room
-- KEYS[4] high stream       lg:{room}:q:high
-- KEYS[5] normal stream     lg:{room}:q:normal
-- ARGV[1] order_id  ARGV[2] body fingerprint  ARGV[3] idempotency TTL (s)
-- ARGV[4] order TTL (s)  ARGV[5] "1" for a vip token  ARGV[6] amount (fen)
-- ARGV[7] user  ARGV[8] accepting gateway id  ARGV[9] sku_id
-- ARGV[10] coupon_id ("" for none)
-- ARGV[11] the room's monitor feed channel (lg:ev:feed:<room>), "" for none:
--          the new order is published there, masked, for monitor.order
-- ARGV[12..] field/value pairs of the order record
--
-- Returns {"accepted", order_id, priority, accepted_at_ms}
--      or {"duplicate", first order_id, priority, accepted_at_ms}
--      or {"conflict", first order_id}

local prev = redis.call('GET', KEYS[1])
if prev then
  local oid, fp, prio, at = string.match(prev, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)$')
  if fp ~= ARGV[2] then
    return {'conflict', oid}
  end
  return {'duplicate', oid, prio, at}
end

-- Redis's clock, not the gateway's: every gateway and validator then
-- measures the 10-second deadline from the same clock.
local t = redis.call('TIME')
local now = tostring(tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))

local prio = 'normal'
if ARGV[5] == '1' then
  prio = 'high'
else
  local threshold = redis.call('HGET', KEYS[3], 'high_value_threshold')
  if threshold and tonumber(ARGV[6]) >= tonumber(threshold) then
    prio = 'high'
  end
end

local record = {'status', 'queued', 'priority', prio, 'accepted_at_ms', now}
for i = 12, #ARGV do
  record[#record + 1] = ARGV[i]
end
redis.call('HSET', KEYS[2], unpack(record))
redis.call('EXPIRE', KEYS[2], ARGV[4])

local stream = KEYS[5]
if prio == 'high' then
  stream = KEYS[4]
end
-- The entry carries what a validator needs to name the keys of its script.
redis.call('XADD', stream, '*', 'order_id', ARGV[1], 'user', ARGV[7],
           'sku_id', ARGV[9], 'coupon_id', ARGV[10], 'accepted_at_ms', now, 'gw', ARGV[8])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2] .. '|' .. prio .. '|' .. now,
           'EX', ARGV[3])

-- The back office's feed hears of the order in the same step, in the shape
-- validate.lua publishes a decision in (numbers as strings). The record's
-- buyer and phone are already masked; the address is never in it.
if ARGV[11] ~= '' then
  local f = {}
  for i = 12, #ARGV - 1, 2 do
    f[ARGV[i]] = ARGV[i + 1]
  end
  redis.call('PUBLISH', ARGV[11], cjson.encode({
    room = f.room_id or '', order_id = ARGV[1], client_order_id = f.client_order_id or '',
    status = 'queued', sku_id = ARGV[9], qty = f.qty or '0', amount = ARGV[6],
    priority = prio, buyer = f.buyer or '', phone = f.phone or '', at_ms = now}))
end
return {'accepted', ARGV[1], prio, now}
