-- Creates a room: rooms:{ID} and rooms:{ID}:p, both expiring at validUntil.
--
-- KEYS  the room, its participants and, for a request with a
--       Repeatability-Request-ID, the record of that request
-- ARGV  c, f, u, p (createdAt, validFrom, validUntil in microseconds,
--       pstnDialOutEnabled 0/1), the keys' expiry (ms), the request body's
--       hash, the record's expiry (ms), then raw id, role pairs
--
-- Returns {1, c, f, u, p} when the room is made; for a retry of a recorded
-- request, {0, c, f, u, p} as the first one was answered, whatever became
-- of the room since, or {-2} if the body differs; {-1} when the id is
-- taken.  A retry never writes.

local record = KEYS[3]

if record then
  local m = redis.call('HMGET', record, 'h', 'c', 'f', 'u', 'p')
  if m[1] then
    if m[1] ~= ARGV[6] then return {-2} end
    return {0, m[2], m[3], m[4], m[5]}
  end
end

if redis.call('EXISTS', KEYS[1]) == 1 then return {-1} end

redis.call('HSET', KEYS[1], 'c', ARGV[1], 'f', ARGV[2], 'u', ARGV[3],
           'p', ARGV[4])
redis.call('PEXPIREAT', KEYS[1], ARGV[5])

if #ARGV > 7 then
  redis.call('HSET', KEYS[2], unpack(ARGV, 8))
  redis.call('PEXPIREAT', KEYS[2], ARGV[5])
end

if record then
  redis.call('HSET', record, 'h', ARGV[6], 'c', ARGV[1], 'f', ARGV[2],
             'u', ARGV[3], 'p', ARGV[4])
  redis.call('PEXPIREAT', record, ARGV[7])
end

return {1, ARGV[1], ARGV[2], ARGV[3], ARGV[4]}
