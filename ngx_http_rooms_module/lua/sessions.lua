-- Who is in a room: one entry per seated user, from the holders whose
-- lease runs.
--
-- KEYS  the room, its participants, its holders, its seats
--
-- Returns {0} when there is no room, else {1, then per user: raw id, role
-- ("" if no longer a participant), connectedAt (ms), holder}, the
-- earliest connection of the user among the live holders.

if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end

local t = redis.call('TIME')
local ms = t[1] * 1000 + math.floor(t[2] / 1000)

local live = {}
local hs = redis.call('ZRANGEBYSCORE', KEYS[3], '(' .. ms, '+inf')
for _, h in ipairs(hs) do live[h] = true end

local out = {1}
local all = redis.call('HGETALL', KEYS[4])

for i = 1, #all, 2 do
  local best, at
  for h, c in string.gmatch(all[i + 1], '(%S+) (%S+)') do
    if live[h] and (not at or tonumber(c) < at) then
      best, at = h, tonumber(c)
    end
  end
  if best then
    out[#out + 1] = all[i]
    out[#out + 1] = redis.call('HGET', KEYS[2], all[i]) or ''
    out[#out + 1] = at
    out[#out + 1] = best
  end
end

return out
