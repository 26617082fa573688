-- reply.lua: append a batch of results to one gateway's reply stream, as
-- one stream entry.
--
-- Why a script: a validator's batch sends most of its results to a few
-- gateways, and a command per result costs both processes more than the
-- append itself (parsing, a reply, a syscall's share). Why one entry for
-- the batch: each XADD inside a script still costs its own command call,
-- entry id and listpack entry in Redis, and an entry to parse in the
-- gateway; one entry holding the n results costs one of each. The reply
-- stream is the only key touched, so the script stays within that stream's
-- hash tag (lg:gw:{gateway}:replies) and runs on Redis Cluster as it is.
--
-- The entry is the pair ("n", n), then for each result, in the order given,
-- its k fields as name/value pairs (so field names repeat, once per result;
-- gateway/features/results.c reads k = (pairs - 1) / n pairs per result).
-- An entry without "n" first holds one result: what validators wrote before
-- batches, which the gateway still reads.
--
-- KEYS[1] the reply stream            lg:gw:{gateway_id}:replies
-- ARGV[1] MAXLEN in entries (approximate)   ARGV[2] the stream's TTL (ms)
-- ARGV[3] k, the number of fields of a result
-- ARGV[4 .. 3+k] the field names
-- then k values per result, in the order of the names
--
-- Returns the number of results appended.

local k = tonumber(ARGV[3])
local first = 4 + k
local n = (#ARGV - first + 1) / k
if n < 1 then
  return 0
end
local entry = {'n', tostring(n)}
for r = 0, n - 1 do
  local base = first + r * k
  for i = 1, k do
    entry[#entry + 1] = ARGV[3 + i]
    entry[#entry + 1] = ARGV[base + i - 1]
  end
end
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(entry))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return n
