-- live_qty.lua: giving an order's quantity back off a buyer's live
-- quantity of a SKU (lg:{room}:live:{user}, a hash sku_id -> qty).
--
-- Why one place: an order cancelled (transition.lua), one unpaid at its
-- payment deadline (pay_timeout.lua) and one counted past the per-user
-- limit (validate.lua) all give their quantity back the same way, and the
-- field goes when it reaches 0, so a buyer who holds nothing of a SKU
-- reads the same as one who never ordered it.
--
-- Prepended to each script whose text holds a line "-- needs: live_qty"
-- (queue/embed_lua.cmake; scripts/lib/lua-source.mjs for the tests).

-- Leaves the buyer holding held - qty of sku_id in k_live, where held is
-- what the buyer holds now.
local function live_qty_put_back(k_live, sku_id, held, qty)
  if held - qty > 0 then
    redis.call('HSET', k_live, sku_id, string.format('%d', held - qty))
  else
    redis.call('HDEL', k_live, sku_id)
  end
end
