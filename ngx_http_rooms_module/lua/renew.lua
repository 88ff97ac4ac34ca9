-- Renews a holder's lease in a room.
--
-- KEYS  the room's holders
-- ARGV  the holder, the lease (ms)
--
-- Returns 1, or 0 when the holder had no lease left there (it ran out and
-- its seats were given to others: the holder restores them).

if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end

local t = redis.call('TIME')
local ms = t[1] * 1000 + math.floor(t[2] / 1000)

redis.call('ZADD', KEYS[1], ms + tonumber(ARGV[2]), ARGV[1])

return 1
