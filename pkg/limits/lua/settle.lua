-- Settlement, in one round trip: reconcile token reservations with real usage (or
-- give back a request that was not served), charge budgets, release leases.
--
-- KEYS: nr rate hashes, nb budget counters, ns semaphores.
-- ARGV: now (µs; negative = the server clock), period (µs), nr, nb, ns; per rate
--   hash: rpm, request delta, tpm, token delta; per budget: cost (nano-USD), expire
--   at (µs on the same clock as now, 0 = never); per semaphore: lease id.
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local P = tonumber(ARGV[2])
local nr, nb, ns = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local a = 6

local function fmt(x) return string.format('%d', x) end

local function split(x, limit)
  local q = math.floor(x / limit)
  local r = x - q * limit
  if r < 0 then q, r = q - 1, r + limit elseif r >= limit then q, r = q + 1, r - limit end
  return q, r
end

-- adjust takes (delta > 0) or gives back (delta < 0) units; a bucket never holds
-- more than full, so tat does not go below now.
local function adjust(tat, frac, limit, delta)
  if delta > 0 then
    if tat < now then tat, frac = now, 0 end
    local q, r = split(P * delta + frac, limit)
    return tat + q, r
  end
  if tat <= now then return now, 0 end
  local q, r = split(P * -delta, limit)
  frac = frac - r
  if frac < 0 then frac, q = frac + limit, q + 1 end
  tat = tat - q
  if tat < now then return now, 0 end
  return tat, frac
end

for i = 1, nr do
  local rpm, dr, tpm, dt = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  a = a + 4
  if (rpm > 0 and dr ~= 0) or (tpm > 0 and dt ~= 0) then
    local h = redis.call('HMGET', KEYS[i], 'rt', 'rf', 'tt', 'tf')
    local rt, rf = tonumber(h[1]) or 0, tonumber(h[2]) or 0
    local tt, tf = tonumber(h[3]) or 0, tonumber(h[4]) or 0
    if rpm > 0 and dr ~= 0 then rt, rf = adjust(rt, rf, rpm, dr) end
    if tpm > 0 and dt ~= 0 then tt, tf = adjust(tt, tf, tpm, dt) end
    local last = math.max(rt, tt)
    if last < now or (last == now and rf == 0 and tf == 0) then
      redis.call('DEL', KEYS[i])
    else
      redis.call('HSET', KEYS[i], 'rt', fmt(rt), 'rf', fmt(rf), 'tt', fmt(tt), 'tf', fmt(tf))
      redis.call('PEXPIRE', KEYS[i], fmt(math.floor((last - now) / 1000) + 2))
    end
  end
end
for j = 1, nb do
  local cost, exp = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  a = a + 2
  if cost > 0 then
    redis.call('INCRBY', KEYS[nr + j], fmt(cost))
    if exp > now then redis.call('PEXPIRE', KEYS[nr + j], fmt(math.floor((exp - now) / 1000) + 1)) end
  end
end
for j = 1, ns do
  redis.call('ZREM', KEYS[nr + nb + j], ARGV[a])
  a = a + 1
end
return 1
