-- Admission of one request against the shared counters of a catalog, atomically.
--
-- KEYS[1]  the catalog's seed marker (a hash: gen, run_id); every other key of the
--          catalog shares its hash tag, so one slot holds them all.
-- ARGV[1]  the catalog's key prefix; ARGV[2] the hold's id; ARGV[3] its owner;
-- ARGV[4]  "1" to decide without writing (a probe); ARGV[5] the number of entries;
-- ARGV[6]  the time, in milliseconds (recorded with the hold);
-- then seven values an entry: kind (b budget, r rate, c concurrency), counter,
--   amount, ceiling, and
--   b: the window start the caller believes stored ("" none), the window start it
--      computed as current, the last reset that window start brings ("" none);
--   r: the current slot, the oldest slot counted, "";
--   c: "", "", "".
-- Amounts are written as given (decimal strings), never through Lua's numbers, so
-- counters stay exact integers; comparisons are exact below 2^53 units.
-- Keys: PREFIX:GEN:n:COUNTER (hash used, held, win, reset), PREFIX:GEN:r:COUNTER (hash
-- slot -> amount), PREFIX:GEN:h:HOLD (hash owner, at, entries: a JSON array of
-- [kind, key, amount, slot], amounts as strings), PREFIX:GEN:holds (set).
--
-- Answers {"noseed"}, {"window", i, stored start, stored reset},
-- {"refused", i, held_out (0/1), headroom, used, slot, amount, ...} or {"ok", gen}.
local gen = redis.call('HGET', KEYS[1], 'gen')
if not gen then
  return {'noseed'}
end
local base = ARGV[1] .. ':' .. gen .. ':'
if ARGV[4] ~= '1' and redis.call('EXISTS', base .. 'h:' .. ARGV[2]) == 1 then
  -- Admitted already (the answer was lost with its connection, and it is asked again).
  return {'ok', gen}
end
local n = tonumber(ARGV[5])
local plan = {}
for i = 1, n do
  local o = 6 + (i - 1) * 7
  local kind, counter = ARGV[o + 1], ARGV[o + 2]
  local amount, ceiling = tonumber(ARGV[o + 3]), tonumber(ARGV[o + 4])
  local a, b, c = ARGV[o + 5], ARGV[o + 6], ARGV[o + 7]
  if kind == 'r' then
    local key = base .. 'r:' .. counter
    local flat = redis.call('HGETALL', key)
    local first = tonumber(b)
    local total, counted, current, stale = 0, {}, false, {}
    for j = 1, #flat, 2 do
      local slot = tonumber(flat[j])
      if slot >= first then
        total = total + tonumber(flat[j + 1])
        counted[#counted + 1] = flat[j]
        counted[#counted + 1] = flat[j + 1]
      else
        stale[#stale + 1] = flat[j]
      end
      if flat[j] == a then
        current = true
      end
    end
    if total + amount > ceiling then
      local out = {'refused', i, 0, ceiling - total, total}
      for _, v in ipairs(counted) do
        out[#out + 1] = v
      end
      return out
    end
    plan[i] = {kind, key, ARGV[o + 3], a, current, stale}
  else
    local key = base .. 'n:' .. counter
    local row = redis.call('HMGET', key, 'used', 'held', 'win', 'reset')
    local used, held = tonumber(row[1] or '0'), tonumber(row[2] or '0')
    if kind == 'b' then
      local win = row[3] or ''
      if win ~= a then
        return {'window', i, win, row[4] or ''}
      end
      if b ~= a then
        used = 0
      end
      if used + held + amount > ceiling then
        local held_out = 0
        if used + amount <= ceiling then
          held_out = 1
        end
        return {'refused', i, held_out, ceiling - used - held, used}
      end
    elseif held + amount > ceiling then
      return {'refused', i, 0, ceiling - held, used}
    end
    plan[i] = {kind, key, ARGV[o + 3], a, b, c}
  end
end
if ARGV[4] == '1' then
  return {'ok', gen}
end
local record = {}
for i = 1, n do
  local p = plan[i]
  local kind, key, amount = p[1], p[2], p[3]
  local slot = ''
  if kind == 'r' then
    slot = p[4]
    redis.call('HINCRBY', key, slot, amount)
    if not p[5] and #p[6] > 0 then
      redis.call('HDEL', key, unpack(p[6]))
    end
  else
    if kind == 'b' and p[5] ~= p[4] then
      redis.call('HSET', key, 'used', '0', 'win', p[5])
      if p[6] ~= '' then
        redis.call('HSET', key, 'reset', p[6])
      end
    end
    redis.call('HINCRBY', key, 'held', amount)
  end
  record[#record + 1] = {kind, key, amount, slot}
end
redis.call('HSET', base .. 'h:' .. ARGV[2], 'owner', ARGV[3], 'at', ARGV[6],
  'entries', cjson.encode(record))
redis.call('SADD', base .. 'holds', ARGV[2])
return {'ok', gen}
