-- Revokes a user's tokens, and deletes the identity if asked: r becomes
-- later than now and than any earlier r, so later than every iat issued
-- so far (issuing uses max(now, r)).  Only a created identity is written.
--
-- KEYS  the user
-- ARGV  now (seconds), '1' to delete the identity too
--
-- Returns the new r; 0 for an identity never created, or deleted and only
-- to be revoked; -1 for one deleted before and deleted again.

local u = redis.call('HMGET', KEYS[1], 'c', 'r', 'd')
if not u[1] then return 0 end

if u[3] then
  if ARGV[2] == '1' then return -1 end
  return 0
end

local r = tonumber(u[2] or '0')
local n = tonumber(ARGV[1]) + 1
if r >= n then n = r + 1 end

redis.call('HSET', KEYS[1], 'r', string.format('%d', n))

if ARGV[2] == '1' then redis.call('HSET', KEYS[1], 'd', '1') end

return n
