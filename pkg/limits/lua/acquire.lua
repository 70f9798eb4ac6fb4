-- Take one slot of a semaphore if one is free, after dropping expired leases (a
-- crashed replica's slots come back when their leases expire).
-- KEYS[1]: the semaphore. ARGV: now (µs; negative = server clock), limit, lease id,
-- lease ttl (µs). Returns 1 when taken, 0 when full.
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local limit, lease, ttl = tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now))
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], string.format('%d', now + ttl), lease)
  redis.call('PEXPIRE', KEYS[1], string.format('%d', math.floor(ttl / 1000) * 2 + 1000))
  return 1
end
return 0
