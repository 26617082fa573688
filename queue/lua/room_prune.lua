-- room_prune.lua: removes a room from the active-room index if it is still
-- idle.
--
-- A validator calls this once it has seen the room's streams drained. The
-- idle test is made here, atomically, on Redis's clock: a gateway that
-- marked the room after the validator looked (room_touch.lua, always
-- before it queues an order) has raised the score, and the room stays.
--
-- KEYS[1] lg:rooms:active   ARGV[1] the room   ARGV[2] the idle window (ms)
--
-- Returns 1 when the room was removed, else 0.

local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if tonumber(score) >= now - tonumber(ARGV[2]) then
  return 0
end
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
