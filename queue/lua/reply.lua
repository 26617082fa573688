-- reply.lua: append a batch of results to one gateway's reply stream.
--
-- Why a script: a validator's batch sends most of its results to a few
-- gateways, and one XADD command per result costs both processes more than
-- the append itself (parsing, a reply, a syscall's share). The reply stream
-- is the only key touched, so the script stays within that stream's hash
-- tag (lg:gw:{gateway}:replies) and runs on Redis Cluster as it is. The
-- entries are exactly those one XADD per result would write, in the same
-- order, and the stream's expiry is renewed once, after the last of them.
--
-- KEYS[1] the reply stream            lg:gw:{gateway_id}:replies
-- ARGV[1] MAXLEN (approximate)        ARGV[2] the stream's TTL (ms)
-- ARGV[3] k, the number of fields of an entry
-- ARGV[4 .. 3+k] the field names
-- then k values per result, in the order of the names
--
-- Returns the number of entries appended.

local k = tonumber(ARGV[3])
local first = 4 + k
local n = (#ARGV - first + 1) / k
local entry = {}
for i = 1, k do
  entry[2 * i - 1] = ARGV[3 + i]
end
for r = 0, n - 1 do
  local base = first + r * k
  for i = 1, k do
    entry[2 * i] = ARGV[base + i - 1]
  end
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(entry))
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return n
