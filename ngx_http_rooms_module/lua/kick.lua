-- Takes a user's seat away in a room, on every gateway, without touching
-- the participants: the user may join again.
--
-- KEYS  the room, its seats
-- ARGV  the raw id
--
-- Returns {exists 0/1, now (us)}: sessions seated before now end.

local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]

if redis.call('EXISTS', KEYS[1]) == 0 then return {0, now} end

redis.call('HDEL', KEYS[2], ARGV[1])

return {1, now}
