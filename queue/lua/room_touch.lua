-- room_touch.lua: marks a room active in the active-room index.
--
-- Gateways call this on PUT of a room and before a room's orders (at most
-- once a second per room and connection), on the connection that then
-- sends the orders, so a room with an order queued was marked no later
-- than the order. The score is Redis's clock, not a gateway's, so the
-- validators' idle windows (room_prune.lua) compare like with like; GT
-- keeps the newest mark when gateways race.
--
-- KEYS[1] lg:rooms:active   ARGV[1] the room
--
-- Returns the score set (ms).

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], 'GT', now, ARGV[1])
return now
