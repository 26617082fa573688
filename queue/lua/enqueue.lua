-- enqueue.lua: dedup and enqueue a batch of one room's orders, atomically.
--
-- Why one script: between "is this client_order_id new?" and "queue it" no
-- other gateway may slip in the same key, or a double tap on two gateways
-- would create two orders. All keys share the room's hash tag and every key
-- is declared in KEYS (Redis Cluster).
--
-- Why a batch: the gateway sends the submits of one room that arrived in
-- one loop turn as one call, so the per-call cost of EVALSHA, the clock and
-- the room's threshold are paid once per batch instead of once per order.
--
-- Each order is decided as if it had been a call of its own, in the order
-- given: a double tap inside one batch is accepted once and answered
-- duplicate (or conflict) the second time. Deciding only reads; the writes
-- follow, the high-priority orders' first.
--
-- KEYS[1] room config       lg:{room}:room
-- KEYS[2] high stream       lg:{room}:q:high
-- KEYS[3] normal stream     lg:{room}:q:normal
-- KEYS[4] feed presence     lg:{room}:feed:watched (set by a gateway while a
--                           monitor watches the room; read once per call)
-- then two keys per order, order i (from 1) at KEYS[5 + 2 * (i - 1)]:
--   +0 idempotency key      lg:{room}:idem:{user}/{client_order_id}
--   +1 order record         lg:{room}:order:{order_id}
-- ARGV[1] idempotency TTL (s)  ARGV[2] order TTL (s)
-- ARGV[3] accepting gateway id  ARGV[4] room id
-- ARGV[5] the room's monitor feed channel (lg:ev:feed:<room>), "" for none:
--         while KEYS[4] exists, the call's new orders are published there
--         as ONE message, a JSON array of one object per order (masked),
--         which the gateway splits into monitor.order frames; nothing is
--         published when nobody watches the room
-- then FIELDS_PER_ORDER per order, order i at ARGV[6 + 18 * (i - 1)]: the
--   body fingerprint, then the values of RECORD_FIELDS below in that order
--   (gateway/features/intake.c writes them)
--
-- Returns one array per order, in the order given:
--   {"accepted", order_id, priority, accepted_at_ms}
--   {"duplicate", first order_id, priority, accepted_at_ms}
--   {"conflict", first order_id}
--   {"error", message}  writing the order failed; nothing of it is stored
--                       (also for a duplicate of it in the same batch)

-- The record's fields the caller supplies, per order and in this order.
-- status, priority, accepted_at_ms, room_id and gw are added here.
local RECORD_FIELDS = {'order_id', 'user', 'client_order_id', 'sku_id', 'qty', 'unit_price',
                       'amount', 'currency', 'payment_method', 'coupon_id', 'tier', 'buyer',
                       'phone', 'province', 'city', 'pii', 'req'}
local F_ORDER_ID, F_USER, F_CLIENT_ORDER_ID, F_SKU_ID, F_QTY = 1, 2, 3, 4, 5
local F_AMOUNT, F_COUPON_ID, F_TIER, F_BUYER, F_PHONE = 7, 10, 11, 12, 13
local NFIELDS = #RECORD_FIELDS
local FIELDS_PER_ORDER = 1 + NFIELDS
local FIRST_ORDER_ARG, FIRST_ORDER_KEY = 6, 5

local idem_ttl, order_ttl, gw, room_id, feed = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local norders = (#KEYS - 4) / 2

-- Redis's clock, not the gateway's: every gateway and validator then
-- measures the 10-second deadline from the same clock. Once per batch, and
-- as a string once (number to string goes through printf's floating point).
local t = redis.call('TIME')
local now = string.format('%d', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))

-- The room's threshold, once per batch; a room never set up has none.
local threshold = tonumber(redis.call('HGET', KEYS[1], 'high_value_threshold') or '')

local function arg_of(i, field)
  return ARGV[FIRST_ORDER_ARG + FIELDS_PER_ORDER * (i - 1) + field]
end

local function fingerprint_of(i)
  return ARGV[FIRST_ORDER_ARG + FIELDS_PER_ORDER * (i - 1)]
end

local function priority_of(i)
  if arg_of(i, F_TIER) == 'vip' then
    return 'high'
  end
  if threshold and tonumber(arg_of(i, F_AMOUNT)) >= threshold then
    return 'high'
  end
  return 'normal'
end

-- Pass 1, in the order given: what a call of its own would answer. A key
-- first taken in this batch is remembered here, since nothing is written yet.
local results, taken, first_of = {}, {}, {}
for i = 1, norders do
  local idem = KEYS[FIRST_ORDER_KEY + 2 * (i - 1)]
  local fp = fingerprint_of(i)
  local prev = taken[idem]
  if prev then
    first_of[i] = prev.index
  else
    local stored = redis.call('GET', idem)
    if stored then
      local oid, sfp, sprio, sat = string.match(stored, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)$')
      prev = {oid = oid, fp = sfp, prio = sprio, at = sat}
    end
  end
  if not prev then
    local prio = priority_of(i)
    taken[idem] = {index = i, oid = arg_of(i, F_ORDER_ID), fp = fp, prio = prio, at = now}
    results[i] = {'accepted', arg_of(i, F_ORDER_ID), prio, now}
  elseif prev.fp ~= fp then
    results[i] = {'conflict', prev.oid}
  else
    results[i] = {'duplicate', prev.oid, prev.prio, prev.at}
  end
end

-- The feed costs a redis.call (and an encode) only while someone watches:
-- one EXISTS per call, then one PUBLISH per call for all its new orders.
local watched = feed ~= '' and redis.call('EXISTS', KEYS[4]) == 1
local fresh = {}

local function note_new(i, prio)
  fresh[#fresh + 1] = {
    room = room_id, order_id = arg_of(i, F_ORDER_ID),
    client_order_id = arg_of(i, F_CLIENT_ORDER_ID), status = 'queued',
    sku_id = arg_of(i, F_SKU_ID), qty = arg_of(i, F_QTY), amount = arg_of(i, F_AMOUNT),
    priority = prio, buyer = arg_of(i, F_BUYER), phone = arg_of(i, F_PHONE), at_ms = now}
end

-- The record, the stream entry, then the idempotency key: a failure part
-- way leaves no key behind, so a retry creates the order afresh.
local function write_order(i, prio)
  local order_key = KEYS[FIRST_ORDER_KEY + 2 * (i - 1) + 1]
  local record = {'status', 'queued', 'priority', prio, 'accepted_at_ms', now,
                  'room_id', room_id, 'gw', gw}
  for f = 1, NFIELDS do
    record[#record + 1] = RECORD_FIELDS[f]
    record[#record + 1] = arg_of(i, f)
  end
  redis.call('HSET', order_key, unpack(record))
  redis.call('EXPIRE', order_key, order_ttl)
  local stream = KEYS[3]
  if prio == 'high' then
    stream = KEYS[2]
  end
  -- The entry carries what a validator needs to name the keys of its script.
  local oid = arg_of(i, F_ORDER_ID)
  redis.call('XADD', stream, '*', 'order_id', oid, 'user', arg_of(i, F_USER),
             'sku_id', arg_of(i, F_SKU_ID), 'coupon_id', arg_of(i, F_COUPON_ID),
             'accepted_at_ms', now, 'gw', gw)
  redis.call('SET', KEYS[FIRST_ORDER_KEY + 2 * (i - 1)],
             oid .. '|' .. fingerprint_of(i) .. '|' .. prio .. '|' .. now, 'EX', idem_ttl)
  -- The back office's feed hears of the order in the same step, in the
  -- shape validate.lua publishes a decision in (numbers as strings). The
  -- buyer and phone are already masked; the address is never in it.
  if watched then
    note_new(i, prio)
  end
end

local function write_accepted(want)
  for i = 1, norders do
    local r = results[i]
    if r[1] == 'accepted' and r[3] == want then
      local ok, err = pcall(write_order, i, want)
      if not ok then
        results[i] = {'error', type(err) == 'table' and err.err or tostring(err)}
      end
    end
  end
end

-- Pass 2: high-value orders are written first.
write_accepted('high')
write_accepted('normal')

-- An array even for one order (cjson would write an empty table as {}).
if #fresh > 0 then
  redis.call('PUBLISH', feed, cjson.encode(fresh))
end

-- A later copy of an order whose write failed fails with it: its answer
-- named an order that does not exist.
for i, first in pairs(first_of) do
  if results[first][1] == 'error' then
    results[i] = results[first]
  end
end
return results
