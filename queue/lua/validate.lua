-- validate.lua: decide a batch of one room's queued orders against the live
-- catalog, atomically.
--
-- Why one script: stock, the buyer's per-user quantity, the coupon's uses
-- and the order's status must change together or not at all; two validators
-- racing for the last unit must not both win. All keys share the room's
-- hash tag, and every key is declared in KEYS (Redis Cluster).
--
-- Why a batch: the per-call cost of EVALSHA (argument parsing, the script's
-- set-up, the effects propagation) and the reads of the room's and the
-- SKU's settings are paid once per batch instead of once per order. The
-- SKU's and the coupon's counters are kept here while the batch runs and
-- written once per SKU / coupon at the end, with the same result as one
-- HINCRBY per order (nothing else runs while the script does).
--
-- Idempotent: an order that already has a final result is not decided
-- again; the stored result is returned, so a re-delivered entry (after a
-- validator crash) re-sends the same answer and takes nothing twice.
--
-- KEYS[1] room config               lg:{room}:room
-- KEYS[2] feed presence             lg:{room}:feed:watched (set by a gateway
--                                   while a monitor watches; read once per call)
-- KEYS[3] the room's load            lg:{room}:load (see "The room's load" below)
-- then two keys per order, order i (from 1) at KEYS[4 + 2 * (i - 1)]:
--   +0 order record                 lg:{room}:order:{order_id}
--   +1 buyer's live qty             lg:{room}:live:{user}   (hash sku_id -> qty)
-- then the call's SKUs, once each     lg:{room}:sku:{sku_id}
-- then two keys per coupon the call's orders use, once each:
--   +0 coupon                       lg:{room}:coupon:{coupon_id}
--   +1 coupon's users               lg:{room}:coupon_users:{coupon_id}
-- then, last and optional, the payment due index lg:{room}:paydue: each
--   order confirmed is added with score pay_deadline_ms (pay_timeout.lua)
-- ARGV[1] deadline (ms after acceptance)   ARGV[2] safety margin (ms)
-- ARGV[3] payment window (ms)
-- ARGV[4] one character per order, "1" to expire it regardless, "0" not
-- ARGV[5] the room's monitor feed channel (lg:ev:feed:<room>), "" for none:
--         while KEYS[2] exists, the decisions made now are published there
--         as ONE message, a JSON array of one object per decision (masked),
--         which the gateway splits into monitor.order frames; nothing is
--         published when nobody watches the room
-- ARGV[6] the room id
-- ARGV[7] m, the number of result field names that follow
-- ARGV[8 .. 7+m] the order record's result fields to return, in the order
--         of queue/result_layout.h (the caller passes the names, so this
--         script and its reader cannot disagree on the order)
-- then n (the orders), s (the SKUs) and c (the coupons), then the s SKU
--         ids and the c coupon ids, in the order of their keys
--
-- Why the SKU and coupon keys once per call, and no arguments per order: a
-- call's orders name a few SKUs between them, and every key or argument
-- is a string Redis parses and turns into a Lua string (about a thousand
-- instructions each); nine per order were a tenth of the script's cost.
-- An order's user, SKU and coupon are read from its record (the same ids
-- its queue entry carries, from which the caller built the keys); an order
-- whose SKU or coupon is not among the call's keys fails (it stays queued).
--
-- Returns one reply per order, in the order of the keys: {"missing"} when
-- the order record is gone, {"error", message} when deciding it failed (it
-- stays queued and has taken nothing), otherwise one string: the values of
-- the result fields ("" for a field not set), then
--   decided_now ("1" when this call decided it),
--   stock_left (the SKU's stock after the decision, "" without a SKU),
-- joined by NULs.
-- stock_left lets the validator announce a sell-out at once (sku_notify);
-- the record's decided_at_ms and accepted_at_ms give the room statistics
-- their confirm latency; its watchers (comma-separated gateway ids, see
-- watch.lua) are the gateways besides the accepting one that asked for the
-- result through a duplicate submit.
--
-- The room's load: each order this call moves out of queued is taken off
-- its priority's count in KEYS[3] (what enqueue.lua admits against), and
-- the decisions are timed into the drain rate admission predicts from:
-- decisions per second over windows of at least RATE_WINDOW_MS in which
-- the queue never ran empty (a validator that keeps up measures its
-- arrivals, not what it could do), averaged with the previous figure. A
-- gap of more than RATE_GAP_MS between decisions after the queue ran empty
-- starts a new window, so a room that sat idle does not drag the rate
-- down. A gap with orders still queued stays in the window: validators
-- that are starved (of CPU, or of Redis behind a flood of scripts) or
-- stopped decide slower, and admission must predict with that, not with
-- what they did before. (A stall is for enqueue.lua to see, through d_at.)
--
-- Reading Redis memory is most of the cost (a record's fields are scattered
-- allocations, rarely in cache), so a queued order's record is read once:
-- its fixed fields as the one value "d" (lib/order_record.lua), and beside
-- it only the hash fields nothing else supplies, not the fields a decision
-- writes (status aside), which a queued record does not have (enqueue.lua
-- creates it without them and only a decision adds them). A stored result
-- is read with a second HMGET.

-- needs: order_record
-- needs: live_qty
local KEYS_PER_ORDER, ROOM_KEYS = 2, 3
local RATE_WINDOW_MS, RATE_GAP_MS = 500, 250
local deadline, margin = tonumber(ARGV[1]), tonumber(ARGV[2])
local pay_window = tonumber(ARGV[3])
local expire_flags, feed, room_id = ARGV[4], ARGV[5], ARGV[6]
local nresult = tonumber(ARGV[7])
local result_fields = {}
for i = 1, nresult do
  result_fields[i] = ARGV[7 + i]
end
local norders, nskus, ncoupons =
  tonumber(ARGV[8 + nresult]), tonumber(ARGV[9 + nresult]), tonumber(ARGV[10 + nresult])
local nkeys

-- Whether the counts describe the keys and arguments given (the payment
-- due index is the one optional key).
local function whole_batch()
  if not (norders and nskus and ncoupons) then
    return false
  end
  nkeys = ROOM_KEYS + KEYS_PER_ORDER * norders + nskus + 2 * ncoupons
  return (#KEYS == nkeys or #KEYS == nkeys + 1) and #ARGV == 10 + nresult + nskus + ncoupons and
           #expire_flags == norders
end

if not whole_batch() then
  return redis.error_reply('validate.lua: ' .. #KEYS .. ' keys and ' .. #ARGV ..
                           ' arguments are not a whole batch')
end
local k_pay_due = KEYS[nkeys + 1]
-- The keys of the call's SKUs and coupons, by id.
local sku_keys, coupon_keys, coupon_users_keys = {}, {}, {}
local first_sku_key = ROOM_KEYS + KEYS_PER_ORDER * norders + 1
for j = 1, nskus do
  sku_keys[ARGV[10 + nresult + j]] = KEYS[first_sku_key + j - 1]
end
for j = 1, ncoupons do
  local id = ARGV[10 + nresult + nskus + j]
  coupon_keys[id] = KEYS[first_sku_key + nskus + 2 * (j - 1)]
  coupon_users_keys[id] = KEYS[first_sku_key + nskus + 2 * (j - 1) + 1]
end

local WRITTEN = {status = true, code = true, field = true, message = true,
                 decided_at_ms = true, confirmed_at_ms = true, pay_deadline_ms = true}
local queued_names = {'priority', 'accepted_at_ms'}
for _, name in ipairs(result_fields) do
  if not WRITTEN[name] then
    queued_names[#queued_names + 1] = name
  end
end
local queued_extra = order_hash_names(queued_names)
local result_extra = order_hash_names(result_fields)

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- As strings once per batch: turning a Lua number into a string goes
-- through printf's floating point, which showed in Redis's profile.
local now_s = string.format('%d', now)
local pay_deadline_s = string.format('%d', now + pay_window)

-- The room's settings, once per batch.
local room = redis.call('HMGET', KEYS[1], 'status', 'payment_methods')
local room_live = room[1] == 'live'
local methods = {}
for m in string.gmatch(room[2] or '', '[^,]+') do
  methods[m] = true
end

-- Each SKU's settings, once per batch; stock is counted down here and the
-- stock taken is written back at the end.
local skus = {}
local function sku_of(key)
  local s = skus[key]
  if not s then
    local h = redis.call('HMGET', key, 'price', 'stock', 'limit_per_user', 'on_sale')
    s = {exists = h[1] ~= false, price_s = h[1], price = tonumber(h[1]),
         stock = tonumber(h[2] or '0'),
         limit = tonumber(h[3] or '0'), on_sale = h[4] == '1', taken = 0}
    skus[key] = s
  end
  return s
end

-- Each coupon's settings and uses, once per batch; the uses are written
-- back at the end.
local coupons = {}
local function coupon_of(key)
  local c = coupons[key]
  if not c then
    local h = redis.call('HMGET', key, 'discount', 'min_amount', 'total', 'used')
    c = {exists = h[1] ~= false, discount = tonumber(h[1]), min = tonumber(h[2] or '0'),
         total = tonumber(h[3]), used = tonumber(h[4] or '0'), added = 0}
    coupons[key] = c
  end
  return c
end

-- One string, the values joined by NULs (none of them holds one): Redis
-- turns a table into a reply string by string, and 15 per order showed.
-- One table for every order's values: a table per order cost Redis's Lua
-- more than the commands around it.
local out = {}
local function result(rec, decided_now, sku_key)
  for i = 1, nresult do
    out[i] = rec[result_fields[i]] or ''
  end
  out[nresult + 1] = decided_now
  local s = sku_of(sku_key)
  out[nresult + 2] = s.exists and string.format('%d', s.stock) or ''
  return table.concat(out, '\0', 1, nresult + 2)
end

local function stored_result(k_order, sku_key)
  return result(order_read(k_order, result_extra), '0', sku_key)
end

-- The feed costs a redis.call (and an encode) only while someone watches:
-- one EXISTS per call, then one PUBLISH per call for all its decisions.
local watched = feed and feed ~= '' and redis.call('EXISTS', KEYS[2]) == 1
local decided = {}
-- The payment due index's score/member pairs of the orders confirmed now.
local due = {}
-- Orders this call moved out of queued, per priority.
local left_queue = {high = 0, normal = 0}

local function note_left_queue(rec)
  local p = rec.priority == 'high' and 'high' or 'normal'
  left_queue[p] = left_queue[p] + 1
end

local function publish_decision(rec, order_id, sku_id)
  if not watched then
    return
  end
  decided[#decided + 1] = {
    room = room_id, order_id = order_id, client_order_id = rec.client_order_id or '',
    status = rec.status or '', code = rec.code or '', sku_id = sku_id,
    qty = rec.qty or '0', amount = rec.amount or '0', priority = rec.priority or '',
    buyer = rec.buyer or '', phone = rec.phone or '', at_ms = now_s}
end

local function limit_exceeded(sku)
  return 'LIMIT_EXCEEDED', 'qty', 'at most ' .. sku.limit .. ' per buyer'
end

-- The first rule the queued order rec breaks, as code, field and message
-- (nil when it breaks none), and the coupon it uses (nil for none). Reads
-- only; decide writes the decision.
local function broken_rule(rec, expire, sku, k_coupon, k_coupon_users, k_live, user, sku_id,
                           coupon_id)
  local qty, unit_price, amount = tonumber(rec.qty), tonumber(rec.unit_price), tonumber(rec.amount)
  if expire or now - tonumber(rec.accepted_at_ms) > deadline - margin then
    return 'EXPIRED', '', 'the order could not be validated within the deadline'
  end
  if not room_live then
    return 'ROOM_CLOSED', 'room_id', 'the room is not selling now'
  end
  if not sku.exists then
    return 'UNKNOWN_SKU', 'sku_id', 'no such product in this room'
  end
  if not sku.on_sale then
    return 'NOT_ON_SALE', 'sku_id', 'the product is not on sale'
  end
  if sku.price ~= unit_price then
    return 'PRICE_CHANGED', 'unit_price',
           'the price has changed; the current price is ' .. sku.price_s
  end

  local subtotal = unit_price * qty
  local discount = 0
  local coupon
  if coupon_id ~= '' then
    coupon = coupon_of(k_coupon)
    if not coupon.exists then
      return 'COUPON_INVALID', 'coupon_id', 'no such coupon'
    end
    if coupon.used + coupon.added >= coupon.total then
      return 'COUPON_INVALID', 'coupon_id', 'the coupon is used up'
    end
    if redis.call('SISMEMBER', k_coupon_users, user) == 1 then
      return 'COUPON_INVALID', 'coupon_id', 'the coupon was already used by this buyer'
    end
    discount = coupon.discount
    if subtotal < coupon.min or discount > subtotal then
      return 'COUPON_INVALID', 'coupon_id', 'the order does not meet the coupon minimum'
    end
  end
  if amount ~= subtotal - discount then
    return 'INVALID_FIELD', 'amount', 'amount must equal unit_price*qty minus the discount'
  end
  if not methods[rec.payment_method] then
    return 'PAYMENT_METHOD_NOT_ALLOWED', 'payment_method',
           'this room does not take that payment method'
  end
  -- The buyer's quantity is read here only where the stock cannot take the
  -- order anyway, to tell LIMIT_EXCEEDED (the rule that comes first) from
  -- OUT_OF_STOCK. Otherwise decide counts it up with one HINCRBY, whose
  -- reply is the new quantity, and takes it back past the limit
  -- (count_for_buyer): one command per confirmed order instead of two.
  if sku.stock < qty then
    if sku.limit > 0 and tonumber(redis.call('HGET', k_live, sku_id) or '0') + qty > sku.limit then
      return limit_exceeded(sku)
    end
    return 'OUT_OF_STOCK', 'sku_id', 'sold out'
  end
  return nil, nil, nil, coupon
end

-- Adds the order's qty to the buyer's live quantity of the SKU; past the
-- SKU's limit it puts the quantity back as it was (lib/live_qty.lua) and
-- answers the rule broken. Nothing else runs while the script does, so no
-- one sees the quantity in between.
local function count_for_buyer(k_live, sku_id, qty_s, sku)
  local held = redis.call('HINCRBY', k_live, sku_id, qty_s)
  if sku.limit <= 0 or held <= sku.limit then
    return nil
  end
  live_qty_put_back(k_live, sku_id, held, tonumber(qty_s))
  return limit_exceeded(sku)
end

local function decide(i, expire)
  local base = ROOM_KEYS + 1 + KEYS_PER_ORDER * (i - 1)
  local k_order, k_live = KEYS[base], KEYS[base + 1]

  local rec = order_read(k_order, queued_extra)
  if not rec.status then
    return {'missing'}
  end
  local order_id, user, sku_id, coupon_id = rec.order_id, rec.user, rec.sku_id, rec.coupon_id or ''
  local k_sku = sku_keys[sku_id]
  if not k_sku then
    error('the order\'s SKU is not among the call\'s keys')
  end
  if rec.status ~= 'queued' then
    return stored_result(k_order, k_sku)
  end
  local k_coupon, k_coupon_users = coupon_keys[coupon_id], coupon_users_keys[coupon_id]
  if coupon_id ~= '' and not k_coupon then
    error('the order\'s coupon is not among the call\'s keys')
  end

  -- The fields are set in Redis and in rec as they are, not gathered in a
  -- table: one per order cost Redis's Lua more than the command.
  local sku = sku_of(k_sku)
  local code, field, message, coupon = broken_rule(rec, expire, sku, k_coupon, k_coupon_users,
                                                   k_live, user, sku_id, coupon_id)
  if not code then
    code, field, message = count_for_buyer(k_live, sku_id, rec.qty, sku)
  end
  if code then
    redis.call('HSET', k_order, 'status', 'rejected', 'code', code, 'field', field, 'message',
               message, 'decided_at_ms', now_s)
    rec.status, rec.code, rec.field, rec.message, rec.decided_at_ms =
      'rejected', code, field, message, now_s
    note_left_queue(rec)
    publish_decision(rec, order_id, sku_id)
    return result(rec, '1', k_sku)
  end

  local qty = tonumber(rec.qty)
  if coupon then
    redis.call('SADD', k_coupon_users, user)
  end
  redis.call('HSET', k_order, 'status', 'pending_payment', 'confirmed_at_ms', now_s,
             'pay_deadline_ms', pay_deadline_s, 'decided_at_ms', now_s)
  rec.status, rec.confirmed_at_ms, rec.pay_deadline_ms, rec.decided_at_ms =
    'pending_payment', now_s, pay_deadline_s, now_s
  if k_pay_due then
    due[#due + 1] = pay_deadline_s
    due[#due + 1] = order_id
  end
  note_left_queue(rec)
  -- Counted only once the record says so: an order that failed before this
  -- point stays queued and has taken nothing.
  sku.stock = sku.stock - qty
  sku.taken = sku.taken + qty
  if coupon then
    coupon.added = coupon.added + 1
  end
  publish_decision(rec, order_id, sku_id)
  return result(rec, '1', k_sku)
end

local out = {}
for i = 1, norders do
  local ok, r = pcall(decide, i, string.sub(expire_flags, i, i) == '1')
  if ok then
    out[i] = r
  else
    out[i] = {'error', type(r) == 'table' and (r.err or 'error') or tostring(r)}
  end
end

-- Every order confirmed now has the same payment deadline: one ZADD for
-- them all, not one each.
if #due > 0 then
  redis.call('ZADD', k_pay_due, unpack(due))
end
for key, s in pairs(skus) do
  if s.taken > 0 then
    redis.call('HINCRBY', key, 'stock', -s.taken)
  end
end
for key, c in pairs(coupons) do
  if c.added > 0 then
    redis.call('HINCRBY', key, 'used', c.added)
  end
end
-- The room's load after this call's decisions (see the top).
local function record_load()
  local n = left_queue.high + left_queue.normal
  if n == 0 then
    return
  end
  local l = redis.call('HMGET', KEYS[3], 'high', 'normal', 'rate', 'd_at', 'w_start', 'w_n',
                       'w_idle', 'w_empty')
  local high = math.max(0, (tonumber(l[1] or '0') or 0) - left_queue.high)
  local normal = math.max(0, (tonumber(l[2] or '0') or 0) - left_queue.normal)
  local rate = tonumber(l[3] or '0') or 0
  local last = tonumber(l[4] or '0') or 0
  local w_start, w_n = tonumber(l[5] or ''), tonumber(l[6] or '0') or 0
  local w_idle = l[7] == '1'
  if not w_start or (now - last > RATE_GAP_MS and l[8] == '1') then
    w_start, w_n, w_idle = now, 0, false
  end
  w_n = w_n + n
  w_idle = w_idle or high + normal == 0
  local changes = {'high', string.format('%d', high), 'normal', string.format('%d', normal),
                   'd_at', now_s}
  if now - w_start >= RATE_WINDOW_MS then
    if not w_idle then
      local measured = w_n * 1000 / (now - w_start)
      if rate > 0 then
        measured = (rate + measured) / 2
      end
      changes[#changes + 1] = 'rate'
      changes[#changes + 1] = string.format('%d', math.max(1, math.floor(measured + 0.5)))
    end
    w_start, w_n, w_idle = now, 0, false
  end
  for _, kv in ipairs({{'w_start', string.format('%d', w_start)},
                       {'w_n', string.format('%d', w_n)}, {'w_idle', w_idle and '1' or '0'},
                       {'w_empty', high + normal == 0 and '1' or '0'}}) do
    changes[#changes + 1] = kv[1]
    changes[#changes + 1] = kv[2]
  end
  redis.call('HSET', KEYS[3], unpack(changes))
end
record_load()

-- One message for the call's decisions; an array even for one (cjson
-- would write an empty table as {}, hence none at all when nothing was).
if #decided > 0 then
  redis.call('PUBLISH', feed, cjson.encode(decided))
end
return out
