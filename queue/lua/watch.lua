-- watch.lua: a duplicate submit asks for its order's result, atomically.
--
-- Why a script and not an HMGET: a viewer whose connection dropped
-- reconnects, often to another gateway process on the same port, and
-- resubmits. Results travel only to the reply streams of gateways that
-- asked for them, so while the order is still queued this gateway must be
-- added to its reply targets in the same step that finds it undecided;
-- otherwise a decision landing between the read and the write would reach
-- nobody. validate.lua returns the targets with every result.
--
-- KEYS[1] order record   lg:{room}:order:{order_id}
-- ARGV[1] this gateway's id
-- ARGV[2..] the record fields to return
--
-- Returns the values of ARGV[2..] (as HMGET would), the registration
-- included.

-- needs: order_record

local MAX_WATCHERS = 8

local names = {}
for i = 2, #ARGV do
  names[#names + 1] = ARGV[i]
end
-- One read of the record: the names asked for, and what the registration
-- needs (the accepting gateway, in d, and the watchers so far).
local extra = order_hash_names(names)
extra[#extra + 1] = 'watchers'
local rec = order_read(KEYS[1], extra)

if rec.status == 'queued' then
  local gw = ARGV[1]
  -- The accepting gateway hears of the result anyway.
  local first = rec.gw or ''
  local list = rec.watchers or ''
  local n, known = 0, (gw == first)
  for w in string.gmatch(list, '[^,]+') do
    n = n + 1
    if w == gw then
      known = true
    end
  end
  -- Bounded: a client resubmitting through every gateway in turn cannot
  -- grow the record; past the bound it still has order.query.
  if not known and n < MAX_WATCHERS then
    if list == '' then
      list = gw
    else
      list = list .. ',' .. gw
    end
    redis.call('HSET', KEYS[1], 'watchers', list)
    rec.watchers = list
  end
end

local out = {}
for i = 1, #names do
  out[i] = rec[names[i]] or false
end
return out
