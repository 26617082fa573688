-- stats_flush.lua: add one process's statistics deltas for one room.
--
-- Why a script: every gateway and validator keeps its per-room counters
-- and latency histograms in memory and hands them over about once a
-- second, so the room's totals cost one call per process per second
-- instead of a write per order. One call applies a whole delta, so a
-- reader never sees half of it. All keys share the room's hash tag.
--
-- KEYS[1] totals          lg:{room}:stats            (hash, totals since the room opened)
-- KEYS[2] connections     lg:{room}:stats:conns      (hash, process id -> "count|redis_ms")
-- KEYS[3] latency second  lg:{room}:stats:lat:{sec}  (hash, "a:<bucket>"/"c:<bucket>" -> count, "cmax")
-- ARGV[1] process id   ARGV[2] connections ("" when this process has none to report)
-- ARGV[3] ms after which a silent process's connection field is deleted
-- ARGV[4] latency-second TTL (s)   ARGV[5] totals TTL (s)
-- ARGV[6] number of counter pairs  ARGV[7] number of histogram pairs
-- ARGV[8] confirm latency maximum of the delta (us, "0" for none)
-- ARGV[9..] counter field/delta pairs, then histogram field/delta pairs
--
-- Returns the number of fields changed.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ncounters, nhist = tonumber(ARGV[6]), tonumber(ARGV[7])
local changed = 0

local i = 9
for _ = 1, ncounters do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
  i = i + 2
  changed = changed + 1
end
if ncounters > 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[5])
end

for _ = 1, nhist do
  redis.call('HINCRBY', KEYS[3], ARGV[i], ARGV[i + 1])
  i = i + 2
  changed = changed + 1
end
local cmax = tonumber(ARGV[8])
if cmax > 0 then
  local prev = tonumber(redis.call('HGET', KEYS[3], 'cmax') or '0')
  if cmax > prev then
    redis.call('HSET', KEYS[3], 'cmax', ARGV[8])
  end
end
if nhist > 0 or cmax > 0 then
  redis.call('EXPIRE', KEYS[3], ARGV[4])
end

if ARGV[2] ~= '' then
  -- Stamped with Redis's clock, so readers judge staleness without
  -- trusting each process's clock. Fields of processes that went away
  -- without saying so are dropped here.
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. '|' .. now)
  local all = redis.call('HGETALL', KEYS[2])
  local stale = tonumber(ARGV[3])
  for k = 1, #all, 2 do
    local at = tonumber(string.match(all[k + 1], '|(%d+)$') or '0')
    if now - at > stale then
      redis.call('HDEL', KEYS[2], all[k])
    end
  end
  redis.call('EXPIRE', KEYS[2], ARGV[5])
  changed = changed + 1
end
return changed
