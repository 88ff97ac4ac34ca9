-- Gives seats back: those of a holder's users that have no session left
-- on it, and the holder's lease once it has no session left in the room.
--
-- KEYS  the room's holders, its seats
-- ARGV  the holder, "1" if it leaves the room, then raw ids
--
-- Returns the number of seats given back.

local me, n = ARGV[1], 0

for i = 3, #ARGV do
  local v = redis.call('HGET', KEYS[2], ARGV[i])
  if v then
    local keep = {}
    for h, c in string.gmatch(v, '(%S+) (%S+)') do
      if h ~= me then keep[#keep + 1] = h .. ' ' .. c end
    end
    if #keep == 0 then
      redis.call('HDEL', KEYS[2], ARGV[i])
      n = n + 1
    else
      redis.call('HSET', KEYS[2], ARGV[i], table.concat(keep, ' '))
    end
  end
end

if ARGV[2] == '1' then redis.call('ZREM', KEYS[1], me) end

return n
