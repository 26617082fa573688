-- stats_read.lua: one room's statistics as one JSON document, read at once.
--
-- Why a script: the monitor shows totals, live connections, the recent
-- latency histograms and the queue backlog of a room side by side; one
-- call reads them consistently and in a single round trip, and the queue
-- figures need a second step (the first undelivered entry) that would
-- otherwise cost another round trip. Read only. All keys share the
-- room's hash tag.
--
-- KEYS[1] totals  KEYS[2] connections  KEYS[3] high stream  KEYS[4] normal stream
-- KEYS[5] the room's load (lg:{room}:load, admission's view of the backlog)
-- KEYS[6..] latency seconds to merge (none: no latency figures)
-- ARGV[1] ms after which a gateway's connection count is stale
-- ARGV[2] the validators' consumer group
--
-- Returns JSON: {"totals":{field:"n",..},"connections":n,
--   "queue":{"high":n,"normal":n,"high_oldest_ms":id_ms,"normal_oldest_ms":id_ms,"now_ms":ms,
--            "rate":"decisions/s" as the load holds it ("" when it has none)},
--   "accept":{bucket:n,..},"confirm":{bucket:n,..},"cmax":"us"}
-- Counters stay strings: cjson would print big integers in floating point.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local totals = {}
local flat = redis.call('HGETALL', KEYS[1])
for k = 1, #flat, 2 do
  totals[flat[k]] = flat[k + 1]
end

local connections = 0
local stale = tonumber(ARGV[1])
local conns = redis.call('HGETALL', KEYS[2])
for k = 1, #conns, 2 do
  local n, at = string.match(conns[k + 1], '^(%d+)|(%d+)$')
  if n and now - tonumber(at) <= stale then
    connections = connections + tonumber(n)
  end
end

local function id_ms(id)
  return tonumber(string.match(id, '^(%d+)-')) or 0
end

-- Not yet decided: delivered to a validator but not acknowledged
-- (pending), plus not delivered yet (the group's lag). The oldest of them
-- is the smallest pending id, or else the first entry after the group's
-- last-delivered-id; stream ids carry Redis's milliseconds.
local function backlog(stream)
  if redis.call('EXISTS', stream) == 0 then
    return 0, 0
  end
  local group = nil
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
    local info = {}
    for k = 1, #g, 2 do
      info[g[k]] = g[k + 1]
    end
    if info['name'] == ARGV[2] then
      group = info
    end
  end
  if not group then
    local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)
    return redis.call('XLEN', stream), first[1] and id_ms(first[1][1]) or 0
  end
  local last = group['last-delivered-id']
  local lag = group['lag']
  if type(lag) ~= 'number' then
    -- Redis cannot always tell (entries deleted in the middle): count.
    lag = #redis.call('XRANGE', stream, '(' .. last, '+', 'COUNT', 100000)
  end
  local pending = tonumber(group['pending']) or 0
  local oldest = 0
  if pending > 0 then
    local summary = redis.call('XPENDING', stream, ARGV[2])
    if summary[2] then
      oldest = id_ms(summary[2])
    end
  end
  if oldest == 0 and lag > 0 then
    local first = redis.call('XRANGE', stream, '(' .. last, '+', 'COUNT', 1)
    if first[1] then
      oldest = id_ms(first[1][1])
    end
  end
  return pending + lag, oldest
end

-- The load hash is what admission decides from, and the only count that
-- drops when the gateway's deadline sweep answers an order EXPIRED (its
-- stream entry stays until a validator skips it), so its counts win when
-- it has them. A room without them (nothing enqueued since admission came
-- in) is counted from its streams as before. The age still comes from the
-- streams, only for a priority that has something undecided: it is then
-- the oldest entry the validators have not finished, an upper bound.
local function load_count(v)
  local n = tonumber(v)
  if not n or n ~= n or n <= 0 or n == math.huge then
    return 0
  end
  return math.floor(n)
end

local load = redis.call('HMGET', KEYS[5], 'high', 'normal', 'rate')
local high, high_oldest, normal, normal_oldest
if load[1] or load[2] then
  high, normal, high_oldest, normal_oldest = load_count(load[1]), load_count(load[2]), 0, 0
  if high > 0 then
    high_oldest = select(2, backlog(KEYS[3]))
  end
  if normal > 0 then
    normal_oldest = select(2, backlog(KEYS[4]))
  end
else
  high, high_oldest = backlog(KEYS[3])
  normal, normal_oldest = backlog(KEYS[4])
end

local accept, confirm, cmax = {}, {}, 0
for k = 6, #KEYS do
  local h = redis.call('HGETALL', KEYS[k])
  for j = 1, #h, 2 do
    local kind, bucket = string.match(h[j], '^(%a):(%d+)$')
    local n = tonumber(h[j + 1]) or 0
    if kind == 'a' then
      accept[bucket] = (accept[bucket] or 0) + n
    elseif kind == 'c' then
      confirm[bucket] = (confirm[bucket] or 0) + n
    elseif h[j] == 'cmax' and n > cmax then
      cmax = n
    end
  end
end

return cjson.encode({
  totals = totals,
  connections = connections,
  queue = {high = high, normal = normal, high_oldest_ms = high_oldest,
           normal_oldest_ms = normal_oldest, now_ms = now, rate = load[3] or ''},
  accept = accept,
  confirm = confirm,
  cmax = tostring(cmax),
})
