"""The Lua scripts of `bots/redis.py`: each step of a replica is one atomic script.

Keys and arguments are named above each script; times come from Redis's own clock
(`TIME`), never a replica's.
"""

from __future__ import annotations

from typing import Final

__all__ = ["_ABANDON", "_BEGIN", "_FINISH", "_INTERIM", "_ORPHANS", "_RENEW", "_SAVE"]

# Shared by the scripts: Redis's clock (never a replica's), and the head of a
# conversation's queue once keys whose lease lapsed have left it.
_HEAD: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function head(q, l)
  for _ = 1, 1000 do
    local first = redis.call('ZRANGE', q, 0, 0)[1]
    if not first then return false end
    local exp = tonumber(redis.call('HGET', l, first) or '0')
    if exp >= now then return first end
    redis.call('ZREM', q, first)
    redis.call('HDEL', l, first)
  end
  return false
end
"""
# KEYS: record, claim, queue, leases, tickets
# ARGV: token, lease_ms, ttl_ms, key, serialize, grace_ms
_BEGIN: Final = (
    _HEAD
    + """
local rec = redis.call('GET', KEYS[1])
if rec then return {'r', rec} end
if redis.call('EXISTS', KEYS[2]) == 1 then return {'busy'} end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
if ARGV[5] == '0' then return {'mine', '1'} end
local ttl = tonumber(ARGV[3])
if not redis.call('ZSCORE', KEYS[3], ARGV[4]) then
  local ticket = redis.call('INCR', KEYS[5])
  redis.call('PEXPIRE', KEYS[5], ttl)
  redis.call('ZADD', KEYS[3], ticket, ARGV[4])
end
redis.call('HSET', KEYS[4], ARGV[4], now + tonumber(ARGV[2]) + tonumber(ARGV[6]))
redis.call('PEXPIRE', KEYS[3], ttl)
redis.call('PEXPIRE', KEYS[4], ttl)
if head(KEYS[3], KEYS[4]) == ARGV[4] then return {'mine', '1'} end
return {'mine', '0'}
"""
)
# KEYS: claim, queue, leases   ARGV: token, lease_ms, key, serialize, grace_ms
# -1: the claim is someone else's (fenced); 1: my turn (or no queue); 0: wait.
_RENEW: Final = (
    _HEAD
    + """
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then return -1 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if ARGV[4] == '0' then return 1 end
if not redis.call('ZSCORE', KEYS[2], ARGV[3]) then return 1 end
redis.call('HSET', KEYS[3], ARGV[3], now + tonumber(ARGV[2]) + tonumber(ARGV[5]))
if head(KEYS[2], KEYS[3]) == ARGV[3] then return 1 end
return 0
"""
)
# KEYS: record, claim, queue, leases, late, interim flag
# ARGV: token, value, ttl_ms, key, serialize
# 0: taken over; 1: recorded; 2: nothing recorded, the claim kept: an inline answer
# ('0' value) that must be posted instead, because a request for the key was answered
# with the interim meanwhile (the replica posts it, then records it as posted; if it
# dies first, the claim lapses and the run is adopted as a late one).
_FINISH: Final = """
local owner = redis.call('GET', KEYS[2])
if (owner and owner ~= ARGV[1]) or redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
local value = ARGV[2]
if string.sub(value, 1, 1) == '0' and redis.call('EXISTS', KEYS[6]) == 1 then
  return 2
end
redis.call('SET', KEYS[1], value, 'PX', ARGV[3])
redis.call('DEL', KEYS[2])
redis.call('HDEL', KEYS[5], ARGV[4])
if ARGV[5] == '1' then
  redis.call('ZREM', KEYS[3], ARGV[4])
  redis.call('HDEL', KEYS[4], ARGV[4])
end
return 1
"""
# The latest request for a key gets the interim: from now on the answer is posted
# (the requests that got it inline may be ones the platform gave up on), and the
# request is kept so a live replica can finish the run if its own dies.
# KEYS: record, interim flag, late   ARGV: ttl_ms, key, request
_INTERIM: Final = """
local rec = redis.call('GET', KEYS[1])
if rec then return rec end
redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[3], ARGV[1])
return false
"""
# Late runs whose replica's lease lapsed (no claim, no record): up to ARGV[2] of
# them, with their requests; answered ones leave the list. KEYS: late
# ARGV: the record-key prefix, count
_ORPHANS: Final = """
local found = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local key = all[i]
  if redis.call('EXISTS', ARGV[1] .. 'r:' .. key) == 1 then
    redis.call('HDEL', KEYS[1], key)
  elseif redis.call('EXISTS', ARGV[1] .. 'c:' .. key) == 0 then
    table.insert(found, key)
    table.insert(found, all[i + 1])
    if #found >= 2 * tonumber(ARGV[2]) then break end
  end
end
return found
"""
# KEYS: claim, queue, leases   ARGV: token, key
_ABANDON: Final = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('HDEL', KEYS[3], ARGV[2])
return 1
"""


# KEYS: the value's hash   ARGV: expected version ('' : any), value, ttl_ms
_SAVE: Final = """
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if ARGV[1] ~= '' and tonumber(ARGV[1]) ~= v then return -1 end
redis.call('HSET', KEYS[1], 'v', v + 1, 'd', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return v + 1
"""
