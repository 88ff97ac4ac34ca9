-- Changes a room's window and pstnDialOutEnabled: a merge, '' keeps a
-- field.  Both room keys then expire at the new validUntil.
--
-- KEYS  the room, its participants
-- ARGV  now, validFrom, validUntil (microseconds), pstn, the longest window
--
-- Returns {1, c, f, u, p}; {0} for no room; {-1, f, u} when the window it
-- would make is refused (the caller explains why).

local r = redis.call('HMGET', KEYS[1], 'c', 'f', 'u', 'p')
if not r[1] then return {0} end

local f = ARGV[2] ~= '' and ARGV[2] or r[2]
local u = ARGV[3] ~= '' and ARGV[3] or r[3]
local p = ARGV[4] ~= '' and ARGV[4] or r[4]
local fn, un = tonumber(f), tonumber(u)

if un <= fn or un - fn > tonumber(ARGV[5]) or un <= tonumber(ARGV[1]) then
  return {-1, f, u}
end

redis.call('HSET', KEYS[1], 'f', f, 'u', u, 'p', p)

local at = string.format('%d', math.floor(un / 1000))
redis.call('PEXPIREAT', KEYS[1], at)
redis.call('PEXPIREAT', KEYS[2], at)

return {1, r[1], f, u, p}
