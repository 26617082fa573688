-- transition.lua: move one order along (order.update), atomically.
--
-- Why one script: the status check, the status change, the stock given back
-- on a cancel, the buyer's freed per-user quantity and the audit entry must
-- happen together or not at all; two operators pressing "cancel" at once
-- must not give the stock back twice. All keys share the room's hash tag.
--
-- The allowed moves are the contract's, exactly:
--   pending_payment -> paid | cancelled,  paid -> shipped | cancelled,
--   shipped -> delivered.
-- Anything else (the same status twice, a queued or rejected order, a move
-- backwards) changes nothing and answers {"invalid", from}.
--
-- Cancelling gives the order's qty back to the SKU's stock (when the SKU
-- still exists) and takes it off the buyer's live quantity of that SKU, so
-- limit_per_user lets the buyer order again. A coupon the order used stays
-- used: the contract lets each user use a coupon once, and a cancel does not
-- hand out a second try.
--
-- KEYS[1] order record        lg:{room}:order:{order_id}
-- KEYS[2] sku                 lg:{room}:sku:{sku_id}
-- KEYS[3] buyer's live qty    lg:{room}:live:{user}   (hash sku_id -> qty)
-- KEYS[4] audit trail         lg:{room}:audit         (stream, capped)
-- ARGV[1] the status asked for (paid, shipped, delivered, cancelled)
-- ARGV[2] actor (token sub)   ARGV[3] actor's role
-- ARGV[4] the order's user and ARGV[5] its sku_id as the caller read them to
--         name KEYS[2] and KEYS[3]; a record that disagrees is treated as gone
-- ARGV[6] most audit entries kept (exact MAXLEN)
-- ARGV[7] the order TTL (s): a move starts it again, so a shipped order is
--         kept the TTL after its last move, not after its acceptance
-- KEYS[5] (optional) the payment due index lg:{room}:paydue: a move out of
--         pending_payment takes the order off it (see pay_timeout.lua)
--
-- The payment deadline decides the race with the timeout: pending_payment
-- -> paid is refused once Redis's clock has reached pay_deadline_ms
-- ({"invalid", from, "pay_deadline"}), the moment from which
-- pay_timeout.lua cancels the order, so a late payment never wins.
--
-- Returns {"missing"}, {"invalid", from}, {"invalid", from, "pay_deadline"}, or
-- {"ok", from, to, at_ms, user, client_order_id, sku_id, qty, amount,
--  priority, buyer, phone}   (buyer and phone are the stored masks)

-- needs: order_record
-- needs: live_qty

local ALLOWED = {
  pending_payment = {paid = true, cancelled = true},
  paid = {shipped = true, cancelled = true},
  shipped = {delivered = true},
}

local o = order_read(KEYS[1], {'priority', 'pay_deadline_ms'})
local from = o.status
if not from or o.user ~= ARGV[4] or o.sku_id ~= ARGV[5] then
  return {'missing'}
end
local to = ARGV[1]
if not (ALLOWED[from] and ALLOWED[from][to]) then
  return {'invalid', from}
end

local t = redis.call('TIME')
local now = tostring(tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
local pay_deadline = tonumber(o.pay_deadline_ms or '')
if to == 'paid' and pay_deadline and tonumber(now) >= pay_deadline then
  return {'invalid', from, 'pay_deadline'}
end
if from == 'pending_payment' and KEYS[5] then
  redis.call('ZREM', KEYS[5], o.order_id or '')
end

redis.call('HSET', KEYS[1], 'status', to, to .. '_at_ms', now, 'updated_at_ms', now)
redis.call('EXPIRE', KEYS[1], ARGV[7])

local sku_id, qty = o.sku_id, tonumber(o.qty)
if to == 'cancelled' then
  if redis.call('EXISTS', KEYS[2]) == 1 then
    redis.call('HINCRBY', KEYS[2], 'stock', qty)
  end
  live_qty_put_back(KEYS[3], sku_id, tonumber(redis.call('HGET', KEYS[3], sku_id) or '0'), qty)
end

redis.call('XADD', KEYS[4], 'MAXLEN', ARGV[6], '*', 'at_ms', now,
           'actor', ARGV[2], 'role', ARGV[3], 'order_id', o.order_id or '',
           'from', from, 'to', to)

return {'ok', from, to, now, o.user, o.client_order_id or '', sku_id, o.qty, o.amount or '0',
        o.priority or '', o.buyer or '', o.phone or ''}
