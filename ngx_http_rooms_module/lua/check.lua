-- What a holder's live sessions in a room depend on: the room's window,
-- whether the holder still has its lease, and for each user the role and
-- who holds the seat.
--
-- KEYS  the room, its participants, its holders, its seats
-- ARGV  the holder, then raw ids
--
-- Returns {0} when there is no room, else {1, validFrom, validUntil,
-- held 0/1, then per raw id: its role ("" for none), its seat: 1 the
-- holder has it, 2 only other holders have it, 0 nobody}.

local w = redis.call('HMGET', KEYS[1], 'f', 'u')
if not w[1] then return {0} end

local me = ARGV[1]
local out = {1, w[1], w[2]}
out[4] = redis.call('ZSCORE', KEYS[3], me) and 1 or 0

for i = 2, #ARGV do
  out[#out + 1] = redis.call('HGET', KEYS[2], ARGV[i]) or ''
  local v, seat = redis.call('HGET', KEYS[4], ARGV[i]), 0
  if v then
    seat = 2
    for h in string.gmatch(v, '(%S+) %S+') do
      if h == me then seat = 1 end
    end
  end
  out[#out + 1] = seat
end

return out
