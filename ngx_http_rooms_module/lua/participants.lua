-- Adds, changes and removes participants of a room that exists: a change
-- never brings back a deleted room.  The participants expire with it.
--
-- KEYS  the room, its participants
-- ARGV  n, then n raw id, role pairs to set, then raw ids to remove
--
-- Returns {1, the role each id had before (nil: none), in ARGV's order},
-- or 0 for no room.

local ttl = redis.call('PTTL', KEYS[1])
if ttl == -2 then return 0 end

local n = tonumber(ARGV[1])
local ids = {}

for i = 2, 1 + 2 * n, 2 do ids[#ids + 1] = ARGV[i] end
for i = 2 + 2 * n, #ARGV do ids[#ids + 1] = ARGV[i] end

local result = {1}

if #ids > 0 then
  local before = redis.call('HMGET', KEYS[2], unpack(ids))
  for i = 1, #ids do result[i + 1] = before[i] end
end

if n > 0 then
  redis.call('HSET', KEYS[2], unpack(ARGV, 2, 1 + 2 * n))
end

if #ARGV > 1 + 2 * n then
  redis.call('HDEL', KEYS[2], unpack(ARGV, 2 + 2 * n))
end

if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end

return result
