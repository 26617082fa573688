-- expire.lua: answer EXPIRED for a room's orders still queued at their
-- deadline, atomically; the gateway's sweep (gateway/features/expiry.c).
--
-- Why: validate.lua decides EXPIRED only when a validator reaches the
-- entry, however late that is; with validators slow, stuck or gone the
-- promise "an answer within the deadline" would break. Gateways call this
-- every 200 ms for the rooms they took orders in. Why one script: "still
-- queued?" and "now EXPIRED" must be one step, so a validator that reaches
-- the entry later finds it decided (validate.lua then only returns the
-- stored result) and two gateways sweeping the same room expire an order
-- once.
--
-- Which entries: stream ids are Redis's milliseconds, so only ids up to the
-- cutoff (now - (deadline - margin) - 1 ms) can be due. Two places hold an
-- undecided entry: the consumer group's pending list (delivered to a
-- validator that has not acknowledged it: XPENDING up to the cutoff) and
-- the part after the group's last-delivered id (XRANGE from there up to the
-- cutoff); a stream without the group is undelivered from its start. The
-- rest was acknowledged, i.e. decided. The order record decides, with the
-- same rule as validate.lua (now - accepted_at_ms > deadline - margin).
--
-- A cursor per stream in the sweep hash (fields "high", "normal") says
-- "every entry up to this id is no longer queued" (a decided order never
-- goes back to queued), so each call starts after it and a scan never
-- passes the same decided entries again, however many lie there (an expired
-- entry stays undelivered until a validator comes). The cursor stops before
-- an entry still queued but not due (its accepted_at_ms may be a
-- millisecond after its id).
--
-- The guard: several gateways sweep the same room; the sweep hash's
-- "owner" and "until" fields let one gateway sweep it per guard period and
-- answer "busy" to the others (the owner may call again at once for more).
--
-- Record keys are built here from ARGV[8] and the entries' order ids, since
-- the scan finds them; they carry the room's hash tag like KEYS, so the
-- script touches one Redis Cluster slot.
--
-- KEYS[1] high stream        lg:{room}:q:high
-- KEYS[2] normal stream      lg:{room}:q:normal
-- KEYS[3] the room's load    lg:{room}:load ("high"/"normal" lose what expires)
-- KEYS[4] the sweep's state  lg:{room}:sweep (owner, until, the cursors)
-- KEYS[5] feed presence      lg:{room}:feed:watched
-- ARGV[1] deadline (ms after acceptance)   ARGV[2] safety margin (ms)
-- ARGV[3] the calling gateway's id          ARGV[4] guard period (ms)
-- ARGV[5] at most this many entries looked at per call
-- ARGV[6] the room's monitor feed channel (lg:ev:feed:<room>), "" for none:
--         while KEYS[5] exists the call's expiries are published there as
--         ONE message, in validate.lua's shape
-- ARGV[7] the room id   ARGV[8] the order record key prefix lg:{room}:order:
-- ARGV[9] the sweep state's TTL (ms)
-- ARGV[10] m, the number of record field names that follow
-- ARGV[11 .. 10+m] the record fields to return for each expired order
--
-- Returns {state, order...}: state "busy" (another gateway holds the
-- guard; nothing was looked at), "more" (the call stopped at ARGV[5]
-- entries: call again) or "done"; then one array per order expired by this
-- call: the values of the named fields ("" for a field not set), read after
-- the write.

-- needs: order_record

local deadline, margin = tonumber(ARGV[1]), tonumber(ARGV[2])
local me, guard_ms, budget = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local feed, room_id, order_prefix, state_ttl = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local nnames = tonumber(ARGV[10])
-- Checked before anything is written: a bad call changes nothing.
if not (deadline and margin and guard_ms and budget and nnames and tonumber(state_ttl)) or
    margin >= deadline or #ARGV ~= 10 + nnames or #KEYS ~= 5 then
  return redis.error_reply('ERR expire.lua: bad arguments')
end
local names = {}
for i = 1, nnames do
  names[i] = ARGV[10 + i]
end
-- The record's hash fields read for an expired order: the names asked for,
-- and the priority the feed shows.
local read_names = {'priority'}
for i = 1, nnames do
  read_names[i + 1] = names[i]
end
local read_extra = order_hash_names(read_names)
local K_LOAD, K_SWEEP, K_WATCHED = KEYS[3], KEYS[4], KEYS[5]
local GROUP = 'lg-validators'
local MESSAGE = 'the order could not be validated within the deadline'

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local now_s = string.format('%d', now)

-- No stream, nothing queued (a room deleted, or never sent an order):
-- "done", and no sweep state is written for it.
if redis.call('EXISTS', KEYS[1], KEYS[2]) == 0 then
  return {'done'}
end

local guard = redis.call('HMGET', K_SWEEP, 'owner', 'until')
if guard[1] and guard[1] ~= me and tonumber(guard[2] or '0') > now then
  return {'busy'}
end
redis.call('HSET', K_SWEEP, 'owner', me, 'until', string.format('%d', now + guard_ms))
redis.call('PEXPIRE', K_SWEEP, state_ttl)

-- An id "ms-seq" as two numbers; the cutoff's seq is the largest there is.
local function parse_id(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function id_less(a, b)
  local am, as = parse_id(a)
  local bm, bs = parse_id(b)
  return am < bm or (am == bm and as < bs)
end
local function id_min(a, b)
  return id_less(b, a) and b or a
end
local cutoff_ms = now - (deadline - margin) - 1
local cutoff_s = string.format('%d', cutoff_ms)
local cutoff_end = cutoff_s .. '-18446744073709551615'

local watched = feed ~= '' and redis.call('EXISTS', K_WATCHED) == 1
local published, out = {}, {'done'}

-- The order id of a queue entry's fields: enqueue.lua's one value
-- ("o", "order_id|user|..."), or the order_id field of an earlier
-- release's entry.
local function order_id_of(pairs_list)
  for i = 1, #pairs_list, 2 do
    if pairs_list[i] == 'o' then
      return string.match(pairs_list[i + 1], '^([^|]+)|')
    end
    if pairs_list[i] == 'order_id' then
      return pairs_list[i + 1]
    end
  end
  return nil
end

local function publish_expiry(rec, order_id)
  published[#published + 1] = {
    room = room_id, order_id = order_id, client_order_id = rec.client_order_id or '',
    status = 'rejected', code = 'EXPIRED', sku_id = rec.sku_id or '', qty = rec.qty or '0',
    amount = rec.amount or '0', priority = rec.priority or '', buyer = rec.buyer or '',
    phone = rec.phone or '', at_ms = now_s}
end

-- "expired", "young" (queued, not due: the scan stops), or "skip" (decided,
-- or no record).
local function try_expire(order_id)
  if not order_id then
    return 'skip'
  end
  local k_order = order_prefix .. order_id
  local v = redis.call('HMGET', k_order, 'status', 'accepted_at_ms')
  if v[1] ~= 'queued' then
    return 'skip'
  end
  local accepted_at = tonumber(v[2] or '')
  if accepted_at and now - accepted_at <= deadline - margin then
    return 'young'
  end
  redis.call('HSET', k_order, 'status', 'rejected', 'code', 'EXPIRED', 'field', '',
             'message', MESSAGE, 'decided_at_ms', now_s)
  local r = {}
  if watched or nnames > 0 then
    -- Read after the write, so the names asked for see the decision.
    local rec = order_read(k_order, read_extra)
    if watched then
      publish_expiry(rec, order_id)
    end
    for i = 1, nnames do
      r[i] = rec[names[i]] or ''
    end
  end
  out[#out + 1] = r
  return 'expired'
end

-- Looks at entries {id, fields} in id order. Returns the id up to which
-- every entry of this source is decided now, how many were expired, and
-- the ids expired (for XACK).
local function scan(entries, from, full)
  local upto, n, ids = from, 0, {}
  for _, e in ipairs(entries) do
    local what = try_expire(order_id_of(e[2] or {}))
    if what == 'young' then
      return upto, n, ids
    end
    if what == 'expired' then
      n = n + 1
      ids[#ids + 1] = e[1]
    end
    upto = e[1]
  end
  if full then
    return cutoff_end, n, ids
  end
  return upto, n, ids
end

local function group_of(stream)
  local groups = redis.call('XINFO', 'GROUPS', stream)
  for _, g in ipairs(groups) do
    local last
    for i = 1, #g, 2 do
      if g[i] == 'name' and g[i + 1] ~= GROUP then
        last = nil
        break
      end
      if g[i] == 'last-delivered-id' then
        last = g[i + 1]
      end
    end
    if last then
      return last
    end
  end
  return nil
end

local more = false
local expired = {high = 0, normal = 0}

-- The stream's pending entries after from, up to the cutoff.
local function scan_pending(stream, from)
  if budget <= 0 then
    more = true
    return from, {}
  end
  local want = budget
  local pending = redis.call('XPENDING', stream, GROUP, '(' .. from, cutoff_s, want)
  budget = budget - #pending
  local entries = {}
  for _, p in ipairs(pending) do
    -- A pending id whose entry was trimmed has no order to look at.
    entries[#entries + 1] = redis.call('XRANGE', stream, p[1], p[1])[1] or {p[1], {}}
  end
  local complete = #pending < want
  more = more or not complete
  local upto, n, ids = scan(entries, from, complete)
  return upto, ids, n
end

-- The stream's undelivered entries after start, up to the cutoff.
local function scan_undelivered(stream, start)
  if not id_less(start, cutoff_end) then
    return cutoff_end, 0
  end
  if budget <= 0 then
    more = true
    return start, 0
  end
  local want = budget
  local entries = redis.call('XRANGE', stream, '(' .. start, cutoff_s, 'COUNT', want)
  budget = budget - #entries
  local complete = #entries < want
  more = more or not complete
  local upto, n = scan(entries, start, complete)
  return upto, n
end

local function sweep(stream, prio)
  if redis.call('EXISTS', stream) == 0 then
    return
  end
  local from = redis.call('HGET', K_SWEEP, prio) or '0-0'
  if not id_less(from, cutoff_end) then
    return
  end
  local last_delivered = group_of(stream)
  local pel_upto, acks, n_pel = cutoff_end, {}, 0
  local start = from
  if last_delivered then
    pel_upto, acks, n_pel = scan_pending(stream, from)
    if id_less(start, last_delivered) then
      start = last_delivered
    end
  end
  local range_upto, n_range = scan_undelivered(stream, start)
  expired[prio] = expired[prio] + n_pel + n_range
  if #acks > 0 then
    redis.call('XACK', stream, GROUP, unpack(acks))
  end
  local upto = id_min(pel_upto, range_upto)
  if id_less(from, upto) then
    redis.call('HSET', K_SWEEP, prio, upto)
  end
end

sweep(KEYS[1], 'high')
sweep(KEYS[2], 'normal')

-- Orders accepted and not yet decided, per priority: what expired leaves,
-- never below 0; a counter nobody keeps yet is not created.
local load = redis.call('HMGET', K_LOAD, 'high', 'normal')
local changes = {}
for i, prio in ipairs({'high', 'normal'}) do
  if expired[prio] > 0 and load[i] then
    local left = (tonumber(load[i]) or 0) - expired[prio]
    changes[#changes + 1] = prio
    changes[#changes + 1] = string.format('%d', left > 0 and left or 0)
  end
end
if #changes > 0 then
  redis.call('HSET', K_LOAD, unpack(changes))
end

-- One message for the call's expiries (cjson would write an empty table
-- as {}, hence none at all when nothing expired).
if #published > 0 then
  redis.call('PUBLISH', feed, cjson.encode(published))
end
if more then
  out[1] = 'more'
end
return out
