-- Takes a seat in a room for a live session: one user, however many
-- sessions and gateways, holds one seat.  Seats are leases of the
-- gateway workers that hold them ("holders", each renewing its lease in
-- the room's own key), so every key is in the room's hash slot.
--
-- KEYS  the room, its participants, its holders (zset: holder -> lease
--       expiry, ms), its seats (hash: raw id -> "holder connectedAt ...")
-- ARGV  the holder, the raw id, the most seats, the lease (ms), the mode
--       for a user already seated: replace, reject or allow
--
-- Returns {1, role, now (us), replaced 0/1, validFrom, validUntil}, or
-- {0, why}: "room" (none), "window" (outside validity), "invited" (not a
-- participant), "present" (seated, mode reject), "full".

local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
local ms = math.floor(now / 1000)

local w = redis.call('HMGET', KEYS[1], 'f', 'u')
if not w[1] then return {0, 'room'} end
if now < tonumber(w[1]) or now >= tonumber(w[2]) then
  return {0, 'window'}
end

local role = redis.call('HGET', KEYS[2], ARGV[2])
if not role then return {0, 'invited'} end

local function parse(v)
  local l = {}
  if v then
    for h, c in string.gmatch(v, '(%S+) (%S+)') do l[#l + 1] = {h, c} end
  end
  return l
end

local function join(l)
  local s = {}
  for _, e in ipairs(l) do s[#s + 1] = e[1] .. ' ' .. e[2] end
  return table.concat(s, ' ')
end

-- the seats of holders whose lease has run out are free again
local dead = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ms)
if #dead > 0 then
  local gone = {}
  for _, h in ipairs(dead) do
    gone[h] = true
    redis.call('ZREM', KEYS[3], h)
  end
  local all = redis.call('HGETALL', KEYS[4])
  for i = 1, #all, 2 do
    local l, keep = parse(all[i + 1]), {}
    for _, e in ipairs(l) do
      if not gone[e[1]] then keep[#keep + 1] = e end
    end
    if #keep == 0 then
      redis.call('HDEL', KEYS[4], all[i])
    elseif #keep < #l then
      redis.call('HSET', KEYS[4], all[i], join(keep))
    end
  end
end

local me, mode = ARGV[1], ARGV[5]
local l = parse(redis.call('HGET', KEYS[4], ARGV[2]))
local replaced = 0

if #l > 0 then
  if mode == 'reject' then return {0, 'present'} end
  if mode == 'replace' then
    l = {{me, tostring(ms)}}
    replaced = 1
  else
    local mine = false
    for _, e in ipairs(l) do if e[1] == me then mine = true end end
    if not mine then l[#l + 1] = {me, tostring(ms)} end
  end
else
  if redis.call('HLEN', KEYS[4]) >= tonumber(ARGV[3]) then
    return {0, 'full'}
  end
  l = {{me, tostring(ms)}}
end

redis.call('HSET', KEYS[4], ARGV[2], join(l))
redis.call('ZADD', KEYS[3], ms + tonumber(ARGV[4]), me)

local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[3], ttl)
  redis.call('PEXPIRE', KEYS[4], ttl)
end

return {1, role, now, replaced, w[1], w[2]}
