-- room_open.lua: start a room's statistics afresh when it goes live.
--
-- The monitor's counters are "totals since the room opened". PUT room
-- calls this just before it writes the room (same connection, so this sees
-- the old status): a room turning live from closed, or set up for the first
-- time as live, gets empty totals and a new opened_at_ms. A live room
-- re-PUT as live, or a room closing, keeps its totals.
--
-- KEYS[1] room config  lg:{room}:room
-- KEYS[2] totals       lg:{room}:stats
-- ARGV[1] the new status ("live" or "closed")   ARGV[2] totals TTL (s)
--
-- Returns 1 when the totals were reset, else 0.

if ARGV[1] ~= 'live' or redis.call('HGET', KEYS[1], 'status') == 'live' then
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'opened_at_ms', tostring(now))
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
