-- sku_notify.lua: publish a SKU's public state on lg:ev:sku, coalesced to at
-- most one publish per second per SKU across every gateway and validator, and
-- at once when the SKU is sold out or off sale.
--
-- Why a script: the gate check, the read of the SKU and the publish must be
-- one step, or two processes could both find the gate open, or one could
-- publish a state older than the one the gate records.
--
-- The gate key holds the state the last publish carried ("stock|on_sale|price")
-- until a whole second of Redis's clock (TIME): the first multiple of the gate
-- length that is at least 3/4 of a gate length after the publish. Every gate
-- of every room therefore opens on the same boundary, so a room's gated SKUs
-- publish together and their sku.update frames reach a viewer in one write,
-- not one at each SKU's own moment. A SKU is published at most once in each
-- second of that clock and never twice within 3/4 s. The quarter is the room
-- a gated call has to land after the boundary it waited for (its retry comes
-- late by the timer, the round trip and a busy process: over 100 ms under
-- test load): had the gate to last a full length, every such call would be
-- gated until the boundary after, and a busy SKU would publish every 2 s.
-- A process whose change is already in the gate's state is
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

-- Redis 7 replicates a script's effects, so reading TIME here is safe.
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local period = tonumber(ARGV[3])
local opens_at = math.ceil((now_ms + math.floor(period * 3 / 4)) / period) * period
redis.call('SET', KEYS[1], state, 'PXAT', opens_at)
redis.call('PUBLISH', ARGV[4], cjson.encode({
  room = ARGV[1], sku_id = ARGV[2], stock_left = stock, on_sale = on_sale, price = price,
}))
return {'published'}
