-- Extend leases still held. A lease that already expired (and may have been given to
-- someone else) is not brought back.
-- KEYS: semaphores. ARGV: now (µs; negative = server clock), lease ttl (µs), then
-- one lease id per key. Returns how many leases were renewed.
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local ttl = tonumber(ARGV[2])
local exp = string.format('%d', now + ttl)
local keep = string.format('%d', math.floor(ttl / 1000) * 2 + 1000)
local n = 0
for i, key in ipairs(KEYS) do
  if redis.call('ZSCORE', key, ARGV[i + 2]) then
    redis.call('ZADD', key, exp, ARGV[i + 2])
    redis.call('PEXPIRE', key, keep)
    n = n + 1
  end
end
return n
