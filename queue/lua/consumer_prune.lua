-- consumer_prune.lua: removes the dead consumers of a stream's group.
--
-- A consumer is removed only when it has been idle longer than the window
-- and holds no pending entry: XGROUP DELCONSUMER drops a consumer's
-- pending entries with it, and those must first be claimed (the
-- validators' claim round does). In one script, so a consumer that reads
-- between the look and the removal is not removed with its new entries.
-- The caller is never removed.
--
-- KEYS[1] a priority stream   ARGV[1] the group   ARGV[2] idle window (ms)
-- ARGV[3] the caller's consumer name
--
-- Returns how many consumers were removed.

local list = redis.pcall('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if type(list) ~= 'table' or list.err then
  return 0
end
local window = tonumber(ARGV[2])
local removed = 0
for _, c in ipairs(list) do
  local f = {}
  for i = 1, #c, 2 do
    f[c[i]] = c[i + 1]
  end
  if f.name and f.name ~= ARGV[3] and f.pending == 0 and f.idle and f.idle > window then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], f.name)
    removed = removed + 1
  end
end
return removed
