-- sku_notify.lua: publish a SKU's public state on lg:ev:sku, coalesced to at
-- most one publish per second per SKU across every gateway and validator, and
-- at once when the SKU is sold out or off sale.
--
-- Why a script: the gate check, the read of the SKU and the publish must be
-- one step, or two processes could both find the gate open, or one could
-- publish a state older than the one the gate records.
--
-- The gate key holds the state the last publish carried ("stock|on_sale|price")
-- for one second. A process whose change is already in that state is
-- covered and has nothing to do; one whose change is newer is gated and
-- calls again when the gate expires (the returned PTTL says when), and the
-- first such call after expiry publishes the state of that moment, which
-- covers every change made before it.
--
-- KEYS[1] gate   lg:{room}:skugate:{sku_id}
-- KEYS[2] sku    lg:{room}:sku:{sku_id}
-- ARGV[1] room   ARGV[2] sku_id   ARGV[3] gate length (ms)   ARGV[4] channel
--
-- Returns {'published'}, {'covered'}, {'gated', pttl_ms} or {'missing'} (no
-- such SKU: nothing to announce).

local v = redis.call('HMGET', KEYS[2], 'price', 'stock', 'on_sale')
if not v[1] then
  return {'missing'}
end
local price = tonumber(v[1])
local stock = tonumber(v[2] or '0')
if stock < 0 then
  stock = 0
end
local on_sale = v[3] == '1'
local state = stock .. '|' .. (on_sale and '1' or '0') .. '|' .. price

local gate = redis.call('GET', KEYS[1])
if gate == state then
  return {'covered'}
end
-- Selling out and going off sale are news that cannot wait for the gate.
local urgent = stock == 0 or not on_sale
if gate and not urgent then
  return {'gated', redis.call('PTTL', KEYS[1])}
end

redis.call('SET', KEYS[1], state, 'PX', ARGV[3])
redis.call('PUBLISH', ARGV[4], cjson.encode({
  room = ARGV[1], sku_id = ARGV[2], stock_left = stock, on_sale = on_sale, price = price,
}))
return {'published'}
