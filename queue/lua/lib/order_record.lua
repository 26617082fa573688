-- order_record.lua: the order record's fixed fields, packed as one value.
--
-- Why one value: what the gateway knows of an order never changes after
-- enqueue, and Redis paid for it field by field: seventeen names and
-- values, each its own allocation in a hash too large for a listpack,
-- written to the AOF and read back one by one. So enqueue.lua stores them
-- as one field "d", the values joined by NUL in ORDER_FIXED's order (the
-- gateway never holds a NUL in a value: jansson refuses one in a string),
-- beside the fields that do change (status, priority, accepted_at_ms, then
-- a decision's and the transitions'). queue/order_record.c packs and
-- unpacks the same layout for C; the two lists must stay in step, which
-- tests/integration/order-record.test.mjs checks. Personal data is in it
-- only masked (buyer, phone) or sealed (pii: name, phone and the whole
-- address, province and city included).
--
-- A record written by an earlier release has no "d" and holds the fixed
-- fields one by one; order_read reads those too, so orders accepted before
-- an upgrade are still decided, paid and answered after it.
--
-- Prepended to each script whose text holds a line "-- needs: order_record"
-- (queue/embed_lua.cmake; scripts/lib/lua-source.mjs for the tests).

local ORDER_FIXED = {'order_id', 'room_id', 'gw', 'user', 'client_order_id', 'sku_id', 'qty',
                     'unit_price', 'amount', 'currency', 'payment_method', 'coupon_id', 'tier',
                     'buyer', 'phone', 'req', 'pii'}
-- Built on first use (order_hash_names): the prelude runs at every call
-- of every script that needs it, and filling a table of 17 names cost
-- enqueue.lua, which never asks, more than a command per call.
local ORDER_IS_FIXED = nil
-- pii comes last and is never read here: no script needs the sealed
-- address, which is most of d's bytes, so reading stops before it.
local ORDER_READ = #ORDER_FIXED - 1
-- struct's "s" is a NUL-terminated string: one C call splits d, at the
-- speed of strlen (a Lua pattern looked at each byte through a class).
local ORDER_D_FORMAT = string.rep('s', ORDER_READ)

-- d's fixed fields, pii aside, and status as a new table. One match into
-- locals and one constructor, which sizes the table once (for 17 fields,
-- 32 slots: the hash fields order_read adds fit without a resize):
-- captures gathered in a table, or fields set one by one, cost Redis's Lua
-- more than a command. The names are ORDER_FIXED's, in its order.
local function order_fixed(d, status)
  local ok, order_id, room_id, gw, user, client_order_id, sku_id, qty, unit_price, amount,
        currency, payment_method, coupon_id, tier, buyer, phone, req =
    pcall(struct.unpack, ORDER_D_FORMAT, d)
  if not ok then
    error('an order record holds a malformed d')
  end
  return {status = status, order_id = order_id, room_id = room_id, gw = gw, user = user,
          client_order_id = client_order_id, sku_id = sku_id, qty = qty, unit_price = unit_price,
          amount = amount, currency = currency, payment_method = payment_method,
          coupon_id = coupon_id, tier = tier, buyer = buyer, phone = phone, req = req}
end

-- Of names, those that are hash fields of their own (not in d, not
-- status), for order_read's extra: worked out once per call, not per order.
local function order_hash_names(names)
  if not ORDER_IS_FIXED then
    ORDER_IS_FIXED = {}
    for _, name in ipairs(ORDER_FIXED) do
      ORDER_IS_FIXED[name] = true
    end
  end
  local out = {}
  for _, name in ipairs(names) do
    if not ORDER_IS_FIXED[name] and name ~= 'status' and name ~= 'd' then
      out[#out + 1] = name
    end
  end
  return out
end

-- The record at key as a table: status, every fixed field but pii, and the
-- hash fields named in extra (from order_hash_names), absent ones nil. An
-- empty table when there is no record. One HMGET; a record of an earlier
-- release costs a second one.
local function order_read(key, extra)
  local v = redis.call('HMGET', key, 'd', 'status', unpack(extra))
  local rec
  if v[1] then
    rec = order_fixed(v[1], v[2] or nil)
  else
    rec = {status = v[2] or nil}
    if v[2] then
      local old = redis.call('HMGET', key, unpack(ORDER_FIXED, 1, ORDER_READ))
      for i = 1, ORDER_READ do
        if old[i] then
          rec[ORDER_FIXED[i]] = old[i]
        end
      end
    end
  end
  for i = 1, #extra do
    if v[i + 2] then
      rec[extra[i]] = v[i + 2]
    end
  end
  return rec
end
