/**
 * The Lua scripts of {@link RedisPolicyStore}: each one update, atomic on the Redis server and
 * timed by the server's clock (`TIME`), so nodes with skewed clocks agree on every expiry. Tables
 * are sorted sets scored by expiry (milliseconds), trimmed of expired members on each write and
 * capped (ZPOPMIN of the soonest-expiring); every key has a TTL no shorter than its longest member.
 * Keys are built from the prefix in ARGV[1] (one Redis, or Sentinel; not Redis Cluster).
 */

const NOW = `local t = redis.call('TIME'); local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** Keeps a key alive at least `ms` more. */
const KEEP = `local function keep(k, ms) if redis.call('PTTL', k) < ms then redis.call('PEXPIRE', k, ms) end end`;

/**
 * ADMIT(prefix, family, block, address, token, maxPerClient, holdMs, perSecond, pauseMs):
 * a sensor ban or an enforced penalty refuses with its remaining ms; then the fleet-wide rate
 * (a counter per second, then a pause key); then the per-client slots (a sorted set per address,
 * never larger than the cap). Returns false to admit (the slot reserved), else {reason, ms}.
 */
export const ADMIT = `${NOW}
${KEEP}
local p, fam, block = ARGV[1], ARGV[2], ARGV[3]
local sensor = tonumber(redis.call('ZSCORE', p .. 'sensor' .. fam, block) or '0')
local ban = tonumber(redis.call('ZSCORE', p .. 'ban' .. fam, block) or '0')
if sensor > now and sensor >= ban then return {'SensorPorts', sensor - now} end
if ban > now then return {'PerSourcePenalties', ban - now} end
local perSecond = tonumber(ARGV[8])
if perSecond > 0 then
  local paused = redis.call('PTTL', p .. 'ratepause')
  if paused > 0 then return {'ConnectionRateLimit', paused} end
  local k = p .. 'rate:' .. math.floor(now / 1000)
  local n = redis.call('INCR', k)
  if n == 1 then redis.call('PEXPIRE', k, 2000) end
  if n > perSecond then
    -- N:0 (no pause) only refuses the excess: SET PX 0 is an error, which read as an outage.
    local pause = tonumber(ARGV[9])
    if pause > 0 then redis.call('SET', p .. 'ratepause', '1', 'PX', pause) end
    return {'ConnectionRateLimit', pause}
  end
end
local cap = tonumber(ARGV[6])
if cap > 0 then
  local k = p .. 'client:' .. ARGV[4]
  redis.call('ZREMRANGEBYSCORE', k, '-inf', now)
  if redis.call('ZCARD', k) >= cap then return {'MaxConnectionsPerClient', 0} end
  redis.call('ZADD', k, now + tonumber(ARGV[7]), ARGV[5])
  keep(k, tonumber(ARGV[7]))
end
return false`;

/** RELEASE(prefix, address, token). */
export const RELEASE = `redis.call('ZREM', ARGV[1] .. 'client:' .. ARGV[2], ARGV[3]) return 1`;

/**
 * PENALISE(prefix, family, block, seconds, max, min, bound, mode): OpenSSH's PerSourcePenalties
 * on two sorted sets per family: `penalty` (every record) and `ban` (the enforced ones, a subset).
 * Returns the enforced ban in whole seconds, or -1.
 */
export const PENALISE = `${NOW}
${KEEP}
local p, fam, block = ARGV[1], ARGV[2], ARGV[3]
local pk, bk = p .. 'penalty' .. fam, p .. 'ban' .. fam
local sec, max, min, bound = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
redis.call('ZREMRANGEBYSCORE', pk, '-inf', now)
redis.call('ZREMRANGEBYSCORE', bk, '-inf', now)
local cur = tonumber(redis.call('ZSCORE', pk, block) or '0')
local capAt = now + max * 1000
local exp
if cur > now then
  exp = math.min(cur + sec * 1000, capAt)
else
  if ARGV[8] == 'deny-all' and redis.call('ZCARD', pk) >= bound then return -1 end
  exp = math.min(now + sec * 1000, capAt)
end
redis.call('ZADD', pk, exp, block)
local over = redis.call('ZCARD', pk) - bound
if over > 0 then
  local gone = redis.call('ZPOPMIN', pk, over)
  for i = 1, #gone, 2 do redis.call('ZREM', bk, gone[i]) end
end
keep(pk, max * 1000 + 1000)
if not redis.call('ZSCORE', pk, block) then return -1 end
if redis.call('ZSCORE', bk, block) or exp - now >= min * 1000 then
  redis.call('ZADD', bk, exp, block)
  keep(bk, max * 1000 + 1000)
  return math.ceil((exp - now) / 1000)
end
return -1`;

/** BAN(prefix, family, block, seconds, bound): a sensor ban, the later expiry winning; a full table drops the soonest. */
export const BAN = `${NOW}
${KEEP}
local k = ARGV[1] .. 'sensor' .. ARGV[2]
local exp = now + tonumber(ARGV[4]) * 1000
redis.call('ZREMRANGEBYSCORE', k, '-inf', now)
local cur = tonumber(redis.call('ZSCORE', k, ARGV[3]) or '0')
if cur < exp then redis.call('ZADD', k, exp, ARGV[3]) end
local over = redis.call('ZCARD', k) - tonumber(ARGV[5])
if over > 0 then redis.call('ZPOPMIN', k, over) end
keep(k, tonumber(ARGV[4]) * 1000 + 1000)
return 1`;

/**
 * REFRESH(prefix, holdMs, maxSessions, nSlots, [address, token]..., [field, json]...): the
 * heartbeat. Slots and sessions live `holdMs` more; sessions are written again (a restarted Redis
 * learns them back). The directory is a hash plus a sorted set of expiries, capped at maxSessions.
 * REGISTER is the same script with no slots.
 */
export const REFRESH = `${NOW}
${KEEP}
local p, hold, maxS, nSlots = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local i = 5
for _ = 1, nSlots do
  local k = p .. 'client:' .. ARGV[i]
  redis.call('ZADD', k, now + hold, ARGV[i + 1])
  keep(k, hold)
  i = i + 2
end
local hk, ek = p .. 'sessions', p .. 'sessions:expiry'
while i < #ARGV do
  redis.call('HSET', hk, ARGV[i], ARGV[i + 1])
  redis.call('ZADD', ek, now + hold, ARGV[i])
  i = i + 2
end
local over = redis.call('ZCARD', ek) - maxS
if over > 0 then
  local gone = redis.call('ZPOPMIN', ek, over)
  for j = 1, #gone, 2 do redis.call('HDEL', hk, gone[j]) end
end
if redis.call('EXISTS', ek) == 1 then
  keep(hk, hold)
  keep(ek, hold)
end
return 1`;

/** UNREGISTER(prefix, field). */
export const UNREGISTER = `redis.call('HDEL', ARGV[1] .. 'sessions', ARGV[2]) redis.call('ZREM', ARGV[1] .. 'sessions:expiry', ARGV[2]) return 1`;

/** SESSIONS(prefix): drops expired sessions (at most 1000 a call), returns the live ones' JSON. */
export const SESSIONS = `${NOW}
local hk, ek = ARGV[1] .. 'sessions', ARGV[1] .. 'sessions:expiry'
local gone = redis.call('ZRANGEBYSCORE', ek, '-inf', now, 'LIMIT', 0, 1000)
for _, f in ipairs(gone) do redis.call('HDEL', hk, f) redis.call('ZREM', ek, f) end
local out = {}
for _, f in ipairs(redis.call('ZRANGEBYSCORE', ek, now, '+inf')) do
  local v = redis.call('HGET', hk, f)
  if v then out[#out + 1] = v end
end
return out`;
