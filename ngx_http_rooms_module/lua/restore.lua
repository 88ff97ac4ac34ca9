-- Gives a holder back the seats of its live sessions after its lease ran
-- out (Redis out of reach for longer than a lease): they are connected,
-- so the most seats is not checked.
--
-- KEYS  the room, its holders, its seats
-- ARGV  the holder, the lease (ms), then raw ids
--
-- Returns 1, or 0 when there is no room.

if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end

local t = redis.call('TIME')
local ms = t[1] * 1000 + math.floor(t[2] / 1000)
local me = ARGV[1]

for i = 3, #ARGV do
  local v = redis.call('HGET', KEYS[3], ARGV[i]) or ''
  local mine = false
  for h in string.gmatch(v, '(%S+) %S+') do
    if h == me then mine = true end
  end
  if not mine then
    if v ~= '' then v = v .. ' ' end
    redis.call('HSET', KEYS[3], ARGV[i], v .. me .. ' ' .. ms)
  end
end

redis.call('ZADD', KEYS[2], ms + tonumber(ARGV[2]), me)

local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[2], ttl)
  redis.call('PEXPIRE', KEYS[3], ttl)
end

return 1
