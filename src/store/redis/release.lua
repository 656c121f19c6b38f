-- Settles a hold on the shared counters: its amounts are released and what the request
-- used is counted; a hold already settled (or never recorded) changes nothing.
--
-- KEYS[1] the catalog's seed marker; ARGV[1] the key prefix; ARGV[2] the hold's id;
-- ARGV[3..] what each entry used, in the hold's order ("full": its whole amount).
local gen = redis.call('HGET', KEYS[1], 'gen')
if not gen then
  return 0
end
local base = ARGV[1] .. ':' .. gen .. ':'
local hold = base .. 'h:' .. ARGV[2]
local entries = redis.call('HGET', hold, 'entries')
if not entries then
  return 0
end
for i, entry in ipairs(cjson.decode(entries)) do
  local kind, key, amount, slot = entry[1], entry[2], entry[3], entry[4]
  local used = ARGV[2 + i]
  if used == nil or used == 'full' then
    used = amount
  end
  if kind == 'r' then
    if redis.call('HEXISTS', key, slot) == 1 then
      local left = redis.call('HINCRBY', key, slot, string.format('%d', tonumber(used) - tonumber(amount)))
      if left < 0 then
        redis.call('HSET', key, slot, '0')
      end
    end
  else
    local left = redis.call('HINCRBY', key, 'held', '-' .. amount)
    if left < 0 then
      redis.call('HSET', key, 'held', '0')
    end
    if kind == 'b' then
      redis.call('HINCRBY', key, 'used', used)
    end
  end
end
redis.call('DEL', hold)
redis.call('SREM', base .. 'holds', ARGV[2])
return 1
