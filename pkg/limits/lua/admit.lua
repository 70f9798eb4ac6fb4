-- Admission, in one round trip: check requests, tokens and budgets of up to three
-- subjects (key, team, model) and take them all or nothing, then try the
-- semaphores whose local queue is empty.
--
-- KEYS: nr rate hashes, nb budget counters, ns semaphores (sorted sets of leases
--   scored by expiry).
-- ARGV: now (µs; negative = the server clock), period (µs), nr, nb, ns, estimated
--   tokens; per rate hash: subject, rpm, tpm; per budget: subject, limit (nano-USD);
--   per semaphore: limit (0 = do not try), lease id, lease ttl (µs).
-- Returns {now, k, ...}: k > 0 refusals follow as {reason, subject, wait µs, spent}
--   (reason 1 requests, 2 tokens, 3 budget, 4 tokens beyond the limit); k = 0 is
--   followed by one granted flag per semaphore and {rt, rf, tt, tf} per rate hash.
--
-- GCRA state per hash: rt/tt are the theoretical arrival times (µs) of requests and
-- tokens, rf/tf the fractions of a µs in units of 1/limit. Numbers are doubles here:
-- period × limit stays below 2^53 (limits are capped at 150M per minute), and every
-- number written back goes through %d so no digit is lost to %.14g.
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local P = tonumber(ARGV[2])
local nr, nb, ns = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local est = tonumber(ARGV[6])
local a = 7

local function fmt(x) return string.format('%d', x) end

local function add(tat, frac, limit, cost)
  if tat < now then tat, frac = now, 0 end
  local x = P * cost + frac
  local q = math.floor(x / limit)
  local r = x - q * limit
  if r < 0 then q, r = q - 1, r + limit elseif r >= limit then q, r = q + 1, r - limit end
  return tat + q, r
end

local function over(tat, frac)
  local d = tat - now
  return d > P or (d == P and frac > 0)
end

local function wait(tat, frac)
  local w = tat - now - P
  if frac > 0 then w = w + 1 end
  if w < 0 then w = 0 end
  return w
end

local out = {now, 0}
local st = {}
for i = 1, nr do
  local subj, rpm, tpm = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  a = a + 3
  local h = redis.call('HMGET', KEYS[i], 'rt', 'rf', 'tt', 'tf')
  local rt, rf = tonumber(h[1]) or 0, tonumber(h[2]) or 0
  local tt, tf = tonumber(h[3]) or 0, tonumber(h[4]) or 0
  if rpm > 0 then
    rt, rf = add(rt, rf, rpm, 1)
    if over(rt, rf) then
      out[#out + 1] = 1; out[#out + 1] = subj; out[#out + 1] = wait(rt, rf); out[#out + 1] = 0
    end
  end
  if tpm > 0 then
    if est > tpm then
      out[#out + 1] = 4; out[#out + 1] = subj; out[#out + 1] = 0; out[#out + 1] = 0
    else
      tt, tf = add(tt, tf, tpm, est)
      if over(tt, tf) then
        out[#out + 1] = 2; out[#out + 1] = subj; out[#out + 1] = wait(tt, tf); out[#out + 1] = 0
      end
    end
  end
  st[i] = {rt, rf, tt, tf}
end
for j = 1, nb do
  local subj, limit = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  a = a + 2
  local spent = tonumber(redis.call('GET', KEYS[nr + j]) or '0')
  if spent >= limit then
    out[#out + 1] = 3; out[#out + 1] = subj; out[#out + 1] = 0; out[#out + 1] = spent
  end
end
if #out > 2 then
  out[2] = (#out - 2) / 4
  return out
end

for i = 1, nr do
  local s = st[i]
  redis.call('HSET', KEYS[i], 'rt', fmt(s[1]), 'rf', fmt(s[2]), 'tt', fmt(s[3]), 'tf', fmt(s[4]))
  -- The state is worth keeping only until both buckets are full again. Expiry is
  -- relative so that a caller-supplied clock need not match the server's.
  redis.call('PEXPIRE', KEYS[i], fmt(math.floor((math.max(s[1], s[3]) - now) / 1000) + 2))
end
for j = 1, ns do
  local key = KEYS[nr + nb + j]
  local limit, lease, ttl = tonumber(ARGV[a]), ARGV[a + 1], tonumber(ARGV[a + 2])
  a = a + 3
  local g = 0
  if limit > 0 then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', fmt(now))
    if redis.call('ZCARD', key) < limit then
      redis.call('ZADD', key, fmt(now + ttl), lease)
      redis.call('PEXPIRE', key, fmt(math.floor(ttl / 1000) * 2 + 1000))
      g = 1
    end
  end
  out[#out + 1] = g
end
for i = 1, nr do
  local s = st[i]
  out[#out + 1] = s[1]; out[#out + 1] = s[2]; out[#out + 1] = s[3]; out[#out + 1] = s[4]
end
return out
