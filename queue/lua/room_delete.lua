-- room_delete.lua: the two atomic steps of DELETE /v1/rooms/{room}.
--
-- Why two steps: a room's keys cannot all be named in advance (a coupon,
-- a SKU taken out of the listing, each buyer's live quantities), so the
-- gateway finds them with SCAN between the steps (gateway/features/
-- room_delete.c). "begin" decides whether the room may go and marks it;
-- "finish" removes the keys every room has, once nothing it holds is
-- owed an answer.
--
-- The rule: only a closed room goes, with no order undecided (delivered
-- and not acknowledged, or not delivered yet, on either priority stream)
-- and none waiting for its payment deadline. Those orders are owed an
-- answer or a cancel that needs the room's keys; deleting them first would
-- strand them. An order that arrives meanwhile finds the room not live and
-- is rejected ROOM_CLOSED as in a room never set up, which "finish" waits
-- for (the caller retries it) before it removes the streams.
--
-- "begin" sets the room's status to "deleting" (not live, so validators
-- keep rejecting ROOM_CLOSED) and a marker naming the deleting gateway,
-- with a TTL the gateway renews while it scans. A gateway that dies
-- mid-way leaves the room "deleting"; once the marker lapses, a DELETE
-- again resumes it and a PUT of the room brings it back.
--
-- KEYS[1] room config      lg:{room}:room
-- KEYS[2] high stream      lg:{room}:q:high
-- KEYS[3] normal stream    lg:{room}:q:normal
-- KEYS[4] payment due      lg:{room}:paydue
-- KEYS[5] the marker       lg:{room}:deleting
-- then, for "finish", the keys removed with the room:
-- KEYS[6..] load, sweep, totals, connection counts, SKU set, audit,
--           dead letters (and the marker, streams, paydue, room above)
-- ARGV[1] "begin" or "finish"   ARGV[2] the deleting gateway's id
-- ARGV[3] the marker's TTL (ms)   ARGV[4] the validators' group
-- ARGV[5] "cancel" when the caller will cancel the orders waiting for
--         payment (DELETE ...?unpaid=cancel, through pay_timeout.lua)
--         between the steps: "begin" then lets them be; "finish" wants
--         none left either way
--
-- Returns {"ok"}, {"not_found"}, {"live"}, {"deleting"} (another gateway
-- is deleting it), {"unpaid", n} or {"undecided", n}.

local K_ROOM, K_HIGH, K_NORMAL, K_PAYDUE, K_MARK = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local step, me, ttl, group, cancel = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5] == 'cancel'

-- Entries of the stream not answered yet: the group's pending entries
-- plus its lag; a stream without the group counts every entry.
local function undecided(stream)
  if redis.call('EXISTS', stream) == 0 then
    return 0
  end
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
    local info = {}
    for k = 1, #g, 2 do
      info[g[k]] = g[k + 1]
    end
    if info['name'] == group then
      local lag = info['lag']
      if type(lag) ~= 'number' then
        lag = #redis.call('XRANGE', stream, '(' .. info['last-delivered-id'], '+', 'COUNT', 100000)
      end
      return (tonumber(info['pending']) or 0) + lag
    end
  end
  return redis.call('XLEN', stream)
end

local status = redis.call('HGET', K_ROOM, 'status')
if not status then
  return {'not_found'}
end
local owner = redis.call('GET', K_MARK)
if owner and owner ~= me then
  return {'deleting'}
end
-- A refusal of "finish" lets go of the marker, so a DELETE again can
-- start at once; the room stays "deleting".
local function refuse(why, n)
  if step == 'finish' then
    redis.call('DEL', K_MARK)
  end
  return {why, n}
end
if status == 'live' then
  return refuse('live', 0) -- put live again meanwhile: the PUT wins
end
local unpaid = redis.call('ZCARD', K_PAYDUE)
if unpaid > 0 and not (cancel and step == 'begin') then
  return refuse('unpaid', unpaid)
end
local open = undecided(K_HIGH) + undecided(K_NORMAL)
if open > 0 then
  return refuse('undecided', open)
end

if step == 'begin' then
  redis.call('HSET', K_ROOM, 'status', 'deleting')
  redis.call('SET', K_MARK, me, 'PX', ttl)
  return {'ok'}
end
if not owner then
  return {'deleting'} -- the marker lapsed: whoever deletes again starts over
end
for i = 1, #KEYS do
  redis.call('DEL', KEYS[i])
end
return {'ok'}
