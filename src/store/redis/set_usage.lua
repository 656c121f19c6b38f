-- Sets counters as an admin write left them in the catalog (a reset, a new window, a
-- removed limit), keeping what requests in flight hold. A counter whose window stays
-- the one stored is left as it is: the write did not change its usage, and settlements
-- landing meanwhile count there.
--
-- KEYS[1] the catalog's seed marker; ARGV[1] the key prefix; then four values a counter:
-- counter, used ("" removes the counter's usage and window), window start, last reset.
local gen = redis.call('HGET', KEYS[1], 'gen')
if not gen then
  return 0
end
local base = ARGV[1] .. ':' .. gen .. ':n:'
for o = 2, #ARGV, 4 do
  local key = base .. ARGV[o]
  if ARGV[o + 1] == '' then
    redis.call('HDEL', key, 'used', 'win', 'reset')
  elseif redis.call('HGET', key, 'win') ~= ARGV[o + 2] then
    redis.call('HSET', key, 'used', ARGV[o + 1], 'win', ARGV[o + 2])
    if ARGV[o + 3] == '' then
      redis.call('HDEL', key, 'reset')
    else
      redis.call('HSET', key, 'reset', ARGV[o + 3])
    end
  end
end
return 1
