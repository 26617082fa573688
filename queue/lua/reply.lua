-- reply.lua: append a batch of results to one gateway's reply stream, as
-- one stream entry.
--
-- Why a script: a validator's batch sends most of its results to a few
-- gateways, and a command per result costs both processes more than the
-- append itself (parsing, a reply, a syscall's share). Why one entry, and
-- the results packed into one value: each field of an entry is a string
-- to parse, copy and log in the append-only file here, and to parse again
-- in the gateway. The reply stream is the only key touched, so the script
-- stays within that stream's hash tag (lg:gw:{gateway}:replies) and runs
-- on Redis Cluster as it is.
--
-- The entry is the pairs ("packed", n) and ("results", the n results as
-- queue/result_layout.h packs them); gateway/features/results.c reads it.
-- Entries of earlier releases, a field per value, are still read there.
--
-- KEYS[1] the reply stream            lg:gw:{gateway_id}:replies
-- ARGV[1] MAXLEN in entries (approximate)   ARGV[2] the stream's TTL (ms)
-- ARGV[3] n, the number of results   ARGV[4] the packed results
--
-- Returns the number of results appended.

local n = tonumber(ARGV[3])
if not n or n < 1 then
  return 0
end
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'packed', ARGV[3], 'results', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return n
