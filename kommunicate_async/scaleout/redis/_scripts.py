"""The Lua scripts of the Redis rate limit and checkpoint.

Each is one `EVALSHA` (redis-py loads it after a `NOSCRIPT` and tries again):
never inside a pipeline, where redis-py first sends `SCRIPT EXISTS`, a second
round trip for what is meant as one.
"""

from __future__ import annotations

from typing import Final

__all__ = ["BEGIN", "BOT_TAKE", "PAUSE", "PAUSE_LEFT", "TAKE"]

_NOW: Final = """
local now_s = redis.call('TIME')
local now = tonumber(now_s[1]) * 1000 + tonumber(now_s[2]) / 1000
"""

# GCRA on Redis's own clock (ms). `tat` (KEYS[1]) is when the budget's next
# campaign send may start; a call reserves `n` slots `interval` apart, never
# before the 429 pause (KEYS[2]) ends, and answers the wait for the first one.
# A campaign never reserves more than `lead` ms ahead: it is told to come back
# instead ({wait, 0}), so bots (BOT_TAKE) only ever overtake a short queue.
TAKE: Final = (
    _NOW
    + """
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local lead = tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local pause = tonumber(redis.call('GET', KEYS[2]) or '0')
local slot = math.max(tat, now - burst * interval, pause)
if slot - now > lead then
  return {string.format('%.3f', slot - now - lead), 0}
end
redis.call('SET', KEYS[1], string.format('%.3f', slot + n * interval),
  'PX', math.ceil(n * interval + 60000))
return {string.format('%.3f', slot - now), n}
"""
)

# Bots first: a bot send takes the next slot of the bots' own cursor (KEYS[3]),
# not a place behind the campaigns' reservations, and pushes the campaigns'
# cursor one slot back: the campaigns yield the capacity the bots used.
BOT_TAKE: Final = (
    _NOW
    + """
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local bot_tat = tonumber(redis.call('GET', KEYS[3]) or '0')
local pause = tonumber(redis.call('GET', KEYS[2]) or '0')
local slot = math.max(bot_tat, now - burst * interval, pause)
local px = math.ceil(interval + 60000)
redis.call('SET', KEYS[3], string.format('%.3f', slot + interval), 'PX', px)
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
redis.call('SET', KEYS[1], string.format('%.3f', math.max(tat, slot) + interval),
  'PX', px)
return string.format('%.3f', slot - now)
"""
)

PAUSE: Final = (
    _NOW
    + """
local until_ms = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ms > current then
  redis.call('SET', KEYS[1], string.format('%.3f', until_ms),
    'PX', tonumber(ARGV[1]) + 1000)
end
return string.format('%.3f', until_ms - now)
"""
)

PAUSE_LEFT: Final = (
    _NOW
    + """
return string.format('%.3f', tonumber(redis.call('GET', KEYS[1]) or '0') - now)
"""
)

# A group of `begin`s in one call, the final states waiting to be written first.
# An item's state is one hash field: "d:<message key>", "f", "s:<at>:<offset>"
# (in flight), "a:<at>:<offset>" (ambiguous). ARGV: ttl ms ('' keeps), the count
# of final states, their (field, value) pairs, the in-flight mark, the keys.
# An item's first mark since it was last settled stays (when it may first have
# been sent): a later begin returns it without marking again, and an ambiguous
# outcome keeps its time, so a rerun's reconcile window never starts after that
# send. (`flush` runs this with no keys: the final states alone.)
BEGIN: Final = """
local items = KEYS[1]
local finals = tonumber(ARGV[2])
for i = 3, 2 + 2 * finals, 2 do
  local value = ARGV[i + 1]
  if string.sub(value, 1, 2) == 'a:' then
    local found = redis.call('HGET', items, ARGV[i])
    local kind = found and string.sub(found, 1, 2)
    if kind == 's:' or kind == 'a:' then value = 'a:' .. string.sub(found, 3) end
  end
  redis.call('HSET', items, ARGV[i], value)
end
local at = 3 + 2 * finals
local mark = ARGV[at]
local out = {}
for i = at + 1, #ARGV do
  local found = redis.call('HGET', items, ARGV[i])
  if found and string.sub(found, 1, 2) == 'd:' then
    out[#out + 1] = 'delivered'
  elseif found and found ~= 'f' then
    out[#out + 1] = found
  else
    redis.call('HSET', items, ARGV[i], mark)
    out[#out + 1] = 'new'
  end
end
if ARGV[1] ~= '' then redis.call('PEXPIRE', items, ARGV[1]) end
return out
"""
