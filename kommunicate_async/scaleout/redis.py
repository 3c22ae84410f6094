"""The shared rate limit, 429 pause and checkpoint of a campaign, on Redis.

Needs the `redis` extra (`pip install "kommunicate-async[redis]"`, redis-py's asyncio
client). Every worker of a campaign names the same Redis and the same `campaign`:

    from redis.asyncio import Redis
    from kommunicate_async.scaleout.redis import RedisBatchStore, RedisRateLimit

    redis = Redis.from_url("redis://localhost:6379/0")
    await km.messages.send_many(
        items,
        shard=(k, n),
        rate_limit=RedisRateLimit(redis, "spring-sale", rate=200),
        checkpoint=RedisBatchStore(redis, "spring-sale"),
        reconcile=True,
    )

Both use Redis's own clock (`TIME`), so the workers' clocks never matter, and each
operation is one atomic script: one round trip a send for the limit, and one for
`begin` (which carries the final states of earlier items along). When Redis cannot
be reached the batch stops with a `CoordinationError` (items already sent get
their results first); it never goes on without the shared limit or checkpoint.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any, Final

import anyio

from .._batch.checkpoint import CheckpointLine, Uncertain
from .._errors import CoordinationError

try:
    from redis.exceptions import RedisError
except ImportError as exc:  # pragma: no cover - the extra is not installed
    raise ImportError(
        "kommunicate_async.scaleout.redis needs redis-py: "
        'pip install "kommunicate-async[redis]"'
    ) from exc

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from . import Begin

__all__ = ["RedisBatchStore", "RedisRateLimit"]

_PREFIX: Final = "kommunicate:"
_MAX_RESERVES: Final = 4
"""Slots a send gives up for waking late before it goes regardless."""
_MAX_PENDING: Final = 64
"""Final states written at the latest when this many wait."""

# GCRA: `tat` is when the next send may start; each call reserves one slot
# `interval` after the last, never before the campaign's pause ends, and answers
# how long to wait for it. One call, one slot: no polling, no herd.
_RESERVE: Final = """
local now_s = redis.call('TIME')
local now = tonumber(now_s[1]) * 1000 + math.floor(tonumber(now_s[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local pause = tonumber(redis.call('GET', KEYS[2]) or '0')
local slot = math.max(tat, now - burst * interval, pause)
redis.call('SET', KEYS[1], slot + interval, 'PX', math.ceil(interval + 60000))
return slot - now
"""
_PAUSE: Final = """
local now_s = redis.call('TIME')
local now = tonumber(now_s[1]) * 1000 + math.floor(tonumber(now_s[2]) / 1000)
local until_ms = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ms > current then
  redis.call('SET', KEYS[1], until_ms, 'PX', tonumber(ARGV[1]) + 1000)
end
return until_ms - now
"""
_PAUSE_LEFT: Final = """
local now_s = redis.call('TIME')
local now = tonumber(now_s[1]) * 1000 + math.floor(tonumber(now_s[2]) / 1000)
return tonumber(redis.call('GET', KEYS[1]) or '0') - now
"""
# An item's state is one hash field: "d:<message key>", "f", "s:<at>:<offset>"
# (in flight), "a:<at>:<offset>" (ambiguous). `begin` reads and marks atomically.
_BEGIN: Final = """
local found = redis.call('HGET', KEYS[1], ARGV[1])
if found and string.sub(found, 1, 2) == 'd:' then return 'delivered' end
redis.call('HSET', KEYS[1], ARGV[1], 's:' .. ARGV[2] .. ':' .. ARGV[3])
if found and found ~= 'f' then return found end
return 'new'
"""


def _failure(what: str, exc: BaseException) -> CoordinationError:
    return CoordinationError(f"{what}: Redis failed ({type(exc).__name__}: {exc})")


class RedisRateLimit:
    """At most `rate` sends a second across every worker of `campaign`, and one
    429 pause for all of them.

    Args:
        redis: a `redis.asyncio.Redis` client.
        campaign: the name every worker of the campaign shares.
        rate: sends a second, for the whole campaign.
        burst: sends that may start at once after an idle spell (1: none). Any
            one-second window sees at most `rate + burst` sends.
        max_late: seconds a send may start after its slot; a process that wakes
            later (its event loop stalled) gives the slot up and takes a new one.
    """

    def __init__(
        self,
        redis: Redis,
        campaign: str,
        *,
        rate: float,
        burst: int = 1,
        max_late: float = 0.05,
    ) -> None:
        if not (rate > 0 and math.isfinite(rate)):
            raise ValueError("rate must be a number of sends a second > 0")
        if burst < 1:
            raise ValueError("burst must be >= 1")
        if not max_late >= 0:
            raise ValueError("max_late must be a number of seconds >= 0")
        self._redis: Any = redis  # redis-py types its results sync-or-async
        self._interval_ms = 1000.0 / rate
        self._burst = burst - 1
        self._max_late = max_late
        self._keys = [f"{_PREFIX}{campaign}:tat", f"{_PREFIX}{campaign}:pause"]
        self._reserve: Any = redis.register_script(_RESERVE)
        self._pause: Any = redis.register_script(_PAUSE)
        self._left: Any = redis.register_script(_PAUSE_LEFT)
        self.late_slots = 0
        """Slots given up because this process woke too late for them."""

    async def wait(self) -> None:
        """Reserve the next slot and sleep until it (and past any pause).

        A slot this process wakes up for more than `max_late` seconds after it
        began (a stalled event loop, a starved CPU) is given up and a new one
        reserved: sending on it would bunch the overdue sends of the stall with
        the other workers' on-time ones, and the server would see more than
        `rate + burst` sends in a second. After `_MAX_RESERVES` late slots in a
        row the send goes anyway, so a process that is always late still
        progresses.
        """
        for _ in range(_MAX_RESERVES):
            asked = time.monotonic()
            wait_ms = await self._reserve_slot()
            if wait_ms > 0:
                await anyio.sleep(wait_ms / 1000)
                if wait_ms > 50:  # a long wait: a 429 may have paused the campaign
                    await self._wait_out_pause()
            late = time.monotonic() - asked - max(wait_ms, 0.0) / 1000
            if late <= self._max_late:
                return
            self.late_slots += 1

    async def _reserve_slot(self) -> float:
        """Milliseconds until the slot just reserved (<= 0: now)."""
        try:
            return float(
                await self._reserve(
                    keys=self._keys, args=[self._interval_ms, self._burst]
                )
            )
        except RedisError as exc:
            raise _failure("the shared rate limit", exc) from None

    async def _wait_out_pause(self) -> None:
        try:
            left = float(await self._left(keys=self._keys[1:]))
        except RedisError as exc:
            raise _failure("the shared 429 pause", exc) from None
        if left > 0:
            await anyio.sleep(left / 1000)

    async def pause(self, seconds: float) -> None:
        """Pause every worker of the campaign for `seconds`."""
        try:
            await self._pause(keys=self._keys[1:], args=[math.ceil(seconds * 1000)])
        except RedisError as exc:
            raise _failure("the shared 429 pause", exc) from None


class RedisBatchStore:
    """A campaign's checkpoint in one Redis hash, shared by all its workers.

    Delivered items are skipped by every worker, in-flight and ambiguous ones are
    reconciled by the next run that takes them, and the server's clock offset is
    kept for that reconcile, as the JSONL file does. `ttl` (seconds, None: keep)
    expires the campaign's keys after its last write.
    """

    def __init__(
        self, redis: Redis, campaign: str, *, ttl: float | None = 7 * 24 * 3600
    ) -> None:
        self._redis: Any = redis  # redis-py types its results sync-or-async
        self._items = f"{_PREFIX}{campaign}:items"
        self._meta = f"{_PREFIX}{campaign}:meta"
        self._ttl_ms = None if ttl is None else int(ttl * 1000)
        self._begin: Any = redis.register_script(_BEGIN)
        self._offset: int | None = None
        self._pending: dict[str, str] = {}

    async def open(self) -> None:
        """Check Redis answers and read the campaign's clock offset."""
        try:
            raw = await self._redis.hget(self._meta, "offset")
        except RedisError as exc:
            raise _failure("the shared checkpoint", exc) from None
        self._offset = None if raw is None else int(raw)

    async def begin(self, key: str, index: int) -> Begin:  # noqa: ARG002 - protocol
        """Skip a delivered item; mark any other in flight (returning an earlier
        run's mark, to reconcile). Final states waiting to be written go in the
        same round trip."""
        at = _now_ms()
        offset = "" if self._offset is None else str(self._offset)
        pending, self._pending = self._pending, {}
        try:
            if pending:
                async with self._redis.pipeline(transaction=False) as pipe:
                    self._write(pipe, pending)
                    await self._begin(
                        keys=[self._items], args=[key, at, offset], client=pipe
                    )
                    found = (await pipe.execute())[-1]
            else:
                found = await self._begin(keys=[self._items], args=[key, at, offset])
        except RedisError as exc:
            raise _failure("the shared checkpoint", exc) from None
        text = found.decode() if isinstance(found, bytes) else str(found)
        if text in ("new", "delivered"):
            return "new" if text == "new" else "delivered"
        return _mark(text)

    async def finish(self, line: CheckpointLine) -> None:
        """Record the item's final status: with the next `begin`, or at `close`
        (as the JSONL file defers its final lines: a crash before then leaves the
        item in flight, to be reconciled, never assumed either way)."""
        if line.status == "delivered":
            value = f"d:{line.message_key or ''}"
        elif line.status == "failed":
            value = "f"
        else:
            offset = "" if self._offset is None else str(self._offset)
            value = f"a:{line.at}:{offset}"
        self._pending[line.key] = value
        if len(self._pending) >= _MAX_PENDING:
            await self.flush()

    async def flush(self) -> None:
        """Write the final states still waiting."""
        pending, self._pending = self._pending, {}
        if not pending:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                self._write(pipe, pending)
                await pipe.execute()
        except RedisError as exc:
            raise _failure("the shared checkpoint", exc) from None

    def _write(self, pipe: Any, pending: dict[str, str]) -> None:
        pipe.hset(self._items, mapping=pending)
        if self._ttl_ms is not None:
            pipe.pexpire(self._items, self._ttl_ms)

    async def clock(self, offset: int) -> None:
        """Keep the smallest clock offset any worker learned."""
        if self._offset is not None and offset >= self._offset:
            return
        self._offset = offset
        try:
            await self._redis.hset(self._meta, "offset", str(offset))
        except RedisError as exc:
            raise _failure("the shared checkpoint", exc) from None

    async def close(self) -> None:
        """Write what waits (the Redis client itself is the caller's)."""
        await self.flush()

    async def outcomes(self) -> dict[str, str]:
        """Every item's state ("delivered", "failed", "ambiguous", "sending"),
        for reports and tests."""
        try:
            raw: dict[bytes | str, bytes | str] = await self._redis.hgetall(self._items)
        except RedisError as exc:
            raise _failure("the shared checkpoint", exc) from None
        names = {"d": "delivered", "f": "failed", "a": "ambiguous", "s": "sending"}
        return {
            (k.decode() if isinstance(k, bytes) else str(k)): names[
                (v.decode() if isinstance(v, bytes) else str(v))[0]
            ]
            for k, v in raw.items()
        }


def _mark(text: str) -> Uncertain:
    """An earlier "s:<at>:<offset>" or "a:<at>:<offset>" as an `Uncertain`."""
    _, at, offset = (text.split(":", 2) + ["", ""])[:3]
    return Uncertain(int(at or 0), int(offset) if offset else None)


def _now_ms() -> int:
    return int(time.time() * 1000)
