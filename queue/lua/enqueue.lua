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
-- The fingerprint is keyed ("k1" then an HMAC, gateway/rules/fingerprint.h).
-- A key stored by an earlier release holds a plain digest that cannot be
-- compared with it; a resubmit that finds one is answered duplicate, as the
-- same client_order_id of the same user (such keys are gone 24 h after the
-- upgrade).
--
-- Each order is decided as if it had been a call of its own, in the order
-- given: a double tap inside one batch is accepted once and answered
-- duplicate (or conflict) the second time. Deciding only reads; the writes
-- follow, the high-priority orders' first.
--
-- Why admission here: the decision must hold across every gateway process,
-- and the backlog it is taken against lives in Redis. The room's load hash
-- (KEYS[5]) counts the orders accepted and not yet decided, per priority,
-- and holds the validators' measured drain rate (validate.lua writes it).
-- A new order is admitted only if the orders ahead of it can be decided
-- within the admitted wait (ARGV[6]): a normal order waits behind both
-- queues, a high one behind the high queue only, so high orders are shed
-- last. A backlog that has seen no decision for ARGV[7] ms means the drain
-- rate is 0 (the validators are stuck or gone): everything is refused. An
-- unknown rate (no busy period measured yet) admits. The retry is the
-- order's turn: the time until the wait ahead is back within bound, plus a
-- place for every refused order still expected back before it (the load's
-- waiting line, "wl"). A refusal writes
-- nothing, so a retry with the same client_order_id starts afresh.
--
-- The per-user rate (ARGV[8] submits a second, bursts of ARGV[9]; 0 is no
-- limit) is a token bucket in one string per user, "milli-tokens|ms",
-- counted for every submit that reaches the script, duplicates included.
--
-- KEYS[1] room config       lg:{room}:room
-- KEYS[2] high stream       lg:{room}:q:high
-- KEYS[3] normal stream     lg:{room}:q:normal
-- KEYS[4] feed presence     lg:{room}:feed:watched (set by a gateway while a
--                           monitor watches the room; read once per call)
-- KEYS[5] the room's load   lg:{room}:load (hash: high, normal, rate, since,
--                           and validate.lua's bookkeeping; see keys.h)
-- then three keys per order, order i (from 1) at KEYS[6 + 3 * (i - 1)]:
--   +0 idempotency key      lg:{room}:idem:{user}/{client_order_id}
--   +1 order record         lg:{room}:order:{order_id}
--   +2 the user's bucket    lg:{room}:rate:{user} (unused when ARGV[8] is 0)
-- ARGV[1] idempotency TTL (s)  ARGV[2] order TTL (s)
-- ARGV[3] accepting gateway id  ARGV[4] room id
-- ARGV[5] the room's monitor feed channel (lg:ev:feed:<room>), "" for none:
--         while KEYS[4] exists, the call's new orders are published there
--         as ONE message, a JSON array of one object per order (masked),
--         which the gateway splits into monitor.order frames; nothing is
--         published when nobody watches the room
-- ARGV[6] the longest predicted wait admitted (ms)
-- ARGV[7] a backlog without a decision for this long has a drain rate of 0 (ms)
-- ARGV[8] submits per user per second, 0 for no limit   ARGV[9] the burst
-- ARGV[10] places to reserve (0..4096): when this call refuses an order
--         BUSY with a turn, the next ARGV[10] places of the waiting line
--         are set aside for the calling gateway, which hands them out to
--         the submits it refuses on its own meanwhile (intake.c); 0 for none
-- then FIELDS_PER_ORDER (6) per order, order i at ARGV[11 + 6 * (i - 1)]
--   (gateway/features/intake.c writes them):
--   +0 the body fingerprint
--   +1 the record's fixed fields as one value, "d" (lib/order_record.lua):
--      stored as it is, decoded only for the monitor feed
--   +2 order_id   +3 the stream entry's ids, order_id|user|sku_id|coupon_id
--   +4 tier ("vip" or "")   +5 amount (fen)
--
-- Returns one array per order, in the order given:
--   {"accepted", order_id, priority, accepted_at_ms}
--   {"duplicate", first order_id, priority, accepted_at_ms}
--   {"conflict", first order_id}
--   {"busy", retry_after_ms, priority, threshold, slot_us, block_ms, block_n}
--                       not admitted: the wait ahead is too long;
--                       retry_after_ms is the order's turn in the waiting
--                       line (threshold: the room's high-value threshold,
--                       "" for none; slot_us: the time between two places;
--                       block_ms and block_n: the first of the places
--                       reserved for the gateway, in ms from now, and how
--                       many, "0" and "0" for none; so the gateway can go
--                       on refusing, with turns of the one line, on its own)
--   {"rate_limited", retry_after_ms}  past the user's rate
--   {"error", message}  writing the order failed; nothing of it is stored
--                       (also for a duplicate of it in the same batch)
-- retry_after_ms carries no jitter; the gateway adds it.

-- needs: order_record
local A_FINGERPRINT, A_D, A_ORDER_ID, A_ENTRY, A_TIER, A_AMOUNT = 0, 1, 2, 3, 4, 5
local FIELDS_PER_ORDER = 6
local FIRST_ORDER_ARG, FIRST_ORDER_KEY, KEYS_PER_ORDER = 11, 6, 3
local MAX_RESERVE = 4096

local idem_ttl, order_ttl, gw, room_id, feed = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local admit_wait, admit_stall = tonumber(ARGV[6]), tonumber(ARGV[7])
local user_rate, user_burst = tonumber(ARGV[8]), tonumber(ARGV[9])
local reserve = math.max(0, math.min(MAX_RESERVE, math.floor(tonumber(ARGV[10]) or 0)))
local norders = (#KEYS - FIRST_ORDER_KEY + 1) / KEYS_PER_ORDER
if norders ~= math.floor(norders) or #ARGV ~= FIRST_ORDER_ARG - 1 + FIELDS_PER_ORDER * norders then
  return redis.error_reply('enqueue.lua: ' .. #KEYS .. ' keys and ' .. #ARGV ..
                           ' arguments are not a whole batch')
end

-- Redis's clock, not the gateway's: every gateway and validator then
-- measures the 10-second deadline from the same clock. Once per batch, and
-- as a string once (number to string goes through printf's floating point).
local t = redis.call('TIME')
local now_n = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local now = string.format('%d', now_n)

-- The room's threshold, once per batch; a room never set up has none.
local threshold_s = redis.call('HGET', KEYS[1], 'high_value_threshold') or ''
local threshold = tonumber(threshold_s)

local function key_of(i, k)
  return KEYS[FIRST_ORDER_KEY + KEYS_PER_ORDER * (i - 1) + k]
end

local function arg_of(i, field)
  return ARGV[FIRST_ORDER_ARG + FIELDS_PER_ORDER * (i - 1) + field]
end

local function priority_of(i)
  if arg_of(i, A_TIER) == 'vip' then
    return 'high'
  end
  if threshold and tonumber(arg_of(i, A_AMOUNT)) >= threshold then
    return 'high'
  end
  return 'normal'
end

-- ---- the per-user rate --------------------------------------------------
-- Each user's bucket is read once per batch and written back once.
local buckets = {}

local function bucket_of(key)
  local b = buckets[key]
  if not b then
    local stored = redis.call('GET', key)
    local milli, at = 0, now_n
    if stored then
      local m, a = string.match(stored, '^(%d+)|(%d+)$')
      milli, at = tonumber(m) or 0, tonumber(a) or now_n
    else
      milli = user_burst * 1000
    end
    -- user_rate tokens a second is user_rate milli-tokens a millisecond.
    milli = math.min(user_burst * 1000, milli + math.max(0, now_n - at) * user_rate)
    b = {milli = milli}
    buckets[key] = b
  end
  return b
end

-- 0 when the submit may go on (a token is taken), else the ms until a
-- token is back.
local function rate_wait(i)
  if user_rate <= 0 then
    return 0
  end
  local b = bucket_of(key_of(i, 2))
  if b.milli >= 1000 then
    b.milli = b.milli - 1000
    return 0
  end
  return math.max(1, math.ceil((1000 - b.milli) / user_rate))
end

-- A full bucket is the same as none, so a key outlives its refill by little.
local function write_buckets()
  local ttl = math.ceil(user_burst * 1000 / math.max(user_rate, 1)) + 1000
  for key, b in pairs(buckets) do
    redis.call('SET', key, string.format('%d|%d', b.milli, now_n), 'PX', ttl)
  end
end

-- ---- admission -------------------------------------------------------------
local load = redis.call('HMGET', KEYS[5], 'high', 'normal', 'rate', 'd_at', 'since', 'wl',
                        'wl_at')
local backlog = {high = tonumber(load[1] or '0') or 0, normal = tonumber(load[2] or '0') or 0}
local drain = tonumber(load[3] or '0') or 0
local last_decision = math.max(tonumber(load[4] or '0') or 0, tonumber(load[5] or '0') or 0)
local was_empty = backlog.high + backlog.normal <= 0

-- The waiting line: refused orders still expected back, each sent away
-- with its own turn. A place frees every 1000 / drain ms; handing the
-- refused clients consecutive places (instead of all the first free one)
-- brings them back one per place, not as a storm that is refused again.
-- The line shortens by one each time a place frees.
local line = tonumber(load[6] or '0') or 0
local line_at = tonumber(load[7] or '') or now_n
if drain > 0 then
  line = math.max(0, line - math.max(0, now_n - line_at) * drain / 1000)
else
  line = 0
end
local line_changed = line > 0

-- Whether no order of the room waits undecided, from the streams' consumer
-- groups (Redis 7: "lag", not yet delivered, and "pending", delivered and
-- not acknowledged). Asked only when the counters say the queue stalled:
-- counters that drifted above the truth (an order record deleted before
-- its decision, say) would otherwise refuse the room for ever. Unknown
-- (no group, or a lag Redis cannot tell) counts as not empty.
local function streams_drained()
  for _, key in ipairs({KEYS[2], KEYS[3]}) do
    if redis.call('EXISTS', key) == 1 then
      local groups = redis.call('XINFO', 'GROUPS', key)
      if #groups == 0 then
        return false
      end
      for _, g in ipairs(groups) do
        local f = {}
        for j = 1, #g, 2 do
          f[g[j]] = g[j + 1]
        end
        if type(f.lag) ~= 'number' or f.lag ~= 0 or f.pending ~= 0 then
          return false
        end
      end
    end
  end
  return true
end

local stalled = not was_empty and now_n - last_decision > admit_stall
if stalled and streams_drained() then
  stalled = false
  backlog.high, backlog.normal, was_empty = 0, 0, true
  redis.call('HSET', KEYS[5], 'high', '0', 'normal', '0')
end

-- The predicted wait of one more order of priority prio (ms): a normal
-- order waits behind both queues, a high one behind the high queue only.
local function wait_ahead(prio)
  local ahead = backlog.high
  if prio == 'normal' then
    ahead = ahead + backlog.normal
  end
  return (ahead + 1) * 1000 / drain
end
local refused_prio = {}

-- 0 when an order of priority prio may join the queue now, else its turn:
-- the ms until the wait ahead of it is back within the admitted wait, plus
-- a place for each refused order still in the line before it.
local function admission_wait(prio)
  if stalled then
    return admit_stall
  end
  if drain <= 0 then
    return 0
  end
  local wait = wait_ahead(prio)
  if wait <= admit_wait then
    return 0
  end
  line = line + 1
  line_changed = true
  refused_prio[prio] = true
  return math.max(1, math.ceil(wait - admit_wait + line * 1000 / drain))
end

-- The places set aside for the calling gateway, per priority it was
-- refused in by this call: the first one's turn (ms from now) and how
-- many. Each gateway refusing on its own then hands out turns of the one
-- line: without them, each would count places from the same script
-- answer, and with G gateways G clients would come back for each place.
local function reserve_block(prio)
  if reserve <= 0 or stalled or drain <= 0 then
    return '0', '0'
  end
  local first = math.max(1, math.ceil(wait_ahead(prio) - admit_wait + (line + 1) * 1000 / drain))
  line = line + reserve
  line_changed = true
  return string.format('%d', first), string.format('%d', reserve)
end

-- Pass 1, in the order given: what a call of its own would answer. A key
-- first taken in this batch is remembered here (the index of its order),
-- since nothing is written yet. No table per order beyond its answer: in
-- Redis's Lua each one costs more than a command.
local results, taken, first_of = {}, {}, {}
for i = 1, norders do
  local idem = key_of(i, 0)
  local fp = arg_of(i, A_FINGERPRINT)
  local limited = rate_wait(i)
  if limited > 0 then
    results[i] = {'rate_limited', string.format('%d', limited)}
  else
    local first = taken[idem]
    local oid, first_fp, first_prio, first_at
    if first then
      first_of[i] = first
      oid, first_fp, first_prio, first_at = arg_of(first, A_ORDER_ID), arg_of(first, A_FINGERPRINT),
                                            results[first][3], now
    else
      local stored = redis.call('GET', idem)
      if stored then
        oid, first_fp, first_prio, first_at =
          string.match(stored, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)$')
        if not oid then
          error('the idempotency key ' .. idem .. ' holds no order')
        end
      end
    end
    if not oid then
      local prio = priority_of(i)
      taken[idem] = i
      results[i] = {'accepted', arg_of(i, A_ORDER_ID), prio, now}
    elseif first_fp ~= fp and string.sub(first_fp, 1, 2) == 'k1' then
      results[i] = {'conflict', oid}
    else
      results[i] = {'duplicate', oid, first_prio, first_at}
    end
  end
end

-- The feed costs a redis.call (and an encode) only while someone watches:
-- one EXISTS per call, then one PUBLISH per call for all its new orders.
local watched = feed ~= '' and redis.call('EXISTS', KEYS[4]) == 1
local fresh = {}

-- The fixed fields are decoded only here, while someone watches.
local function feed_entry(i, prio)
  local rec = order_fixed(arg_of(i, A_D))
  return {
    room = room_id, order_id = arg_of(i, A_ORDER_ID), client_order_id = rec.client_order_id,
    status = 'queued', sku_id = rec.sku_id, qty = rec.qty, amount = rec.amount, priority = prio,
    buyer = rec.buyer, phone = rec.phone, at_ms = now}
end

-- The record, the stream entry, then the idempotency key: a failure part
-- way leaves no key behind, so a retry creates the order afresh. The feed
-- entry is built first, so a d it cannot read fails the order before
-- anything is written.
local function write_order(i, prio)
  local entry = watched and feed_entry(i, prio)
  local order_key = key_of(i, 1)
  redis.call('HSET', order_key, 'status', 'queued', 'priority', prio, 'accepted_at_ms', now, 'd',
             arg_of(i, A_D))
  redis.call('EXPIRE', order_key, order_ttl)
  local stream = KEYS[3]
  if prio == 'high' then
    stream = KEYS[2]
  end
  -- The entry carries what a validator needs to name the keys of its
  -- script, as one value: order_id|user|sku_id|coupon_id|accepted_at_ms|gw
  -- (ids never hold a '|'). One value instead of six fields spares Redis
  -- ten strings an order here, in the AOF and in the validator's read.
  redis.call('XADD', stream, '*', 'o', arg_of(i, A_ENTRY) .. '|' .. now .. '|' .. gw)
  redis.call('SET', key_of(i, 0),
             arg_of(i, A_ORDER_ID) .. '|' .. arg_of(i, A_FINGERPRINT) .. '|' .. prio .. '|' .. now,
             'EX', idem_ttl)
  -- The back office's feed hears of the order in the same step, in the
  -- shape validate.lua publishes a decision in (numbers as strings). The
  -- buyer and phone are already masked; the address is never in it.
  if entry then
    fresh[#fresh + 1] = entry
  end
end

-- The time between two places, in microseconds, for the gateway to go on
-- handing out turns while it refuses on its own (see intake.c).
local slot_us = drain > 0 and string.format('%d', math.ceil(1000000 / drain)) or '0'

-- Admits (or refuses) the batch's new orders of one priority, in the
-- order given, each against the backlog including those admitted before
-- it, then writes the admitted ones.
local admitted = {high = 0, normal = 0}
local function admit_and_write(want)
  for i = 1, norders do
    local r = results[i]
    if r[1] == 'accepted' and r[3] == want then
      local wait = admission_wait(want)
      if wait > 0 then
        results[i] = {'busy', string.format('%d', wait), want, threshold_s, slot_us, '0', '0'}
      else
        local ok, err = pcall(write_order, i, want)
        if ok then
          backlog[want] = backlog[want] + 1
          admitted[want] = admitted[want] + 1
        else
          results[i] = {'error', type(err) == 'table' and err.err or tostring(err)}
        end
      end
    end
  end
end

-- Pass 2: high-value orders are admitted and written first.
admit_and_write('high')
admit_and_write('normal')

-- The block of places for each priority refused, named in every busy
-- answer of that priority (the gateway keeps the last it reads).
for _, prio in ipairs({'high', 'normal'}) do
  if refused_prio[prio] then
    local first, n = reserve_block(prio)
    for i = 1, norders do
      local r = results[i]
      if r[1] == 'busy' and r[3] == prio then
        r[6], r[7] = first, n
      end
    end
  end
end

if admitted.high + admitted.normal > 0 then
  local load_changes = {'high', string.format('%d', backlog.high),
                        'normal', string.format('%d', backlog.normal)}
  -- Where a stall is measured from when no decision came since.
  if was_empty then
    load_changes[#load_changes + 1] = 'since'
    load_changes[#load_changes + 1] = now
  end
  redis.call('HSET', KEYS[5], unpack(load_changes))
end
if line_changed then
  redis.call('HSET', KEYS[5], 'wl', string.format('%.3f', line), 'wl_at', now)
end
write_buckets()

-- An array even for one order (cjson would write an empty table as {}).
if #fresh > 0 then
  redis.call('PUBLISH', feed, cjson.encode(fresh))
end

-- A later copy of an order that was not written (refused or failed) gets
-- the same answer: its own would name an order that does not exist.
for i, first in pairs(first_of) do
  local kind = results[first][1]
  if kind == 'error' or kind == 'busy' then
    results[i] = results[first]
  end
end
return results
