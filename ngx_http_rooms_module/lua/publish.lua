-- Publishes a change for other gateways' caches, numbered, so that a gap
-- shows: "SEQ " .. the message.
--
-- KEYS  the counter of events
-- ARGV  the channel, the message
--
-- Returns the event's number.

local seq = redis.call('INCR', KEYS[1])
redis.call('PUBLISH', ARGV[1], seq .. ' ' .. ARGV[2])
return seq
