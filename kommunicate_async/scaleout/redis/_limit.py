"""One send budget per API key on Redis: campaigns take slots in blocks, bots first."""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Final, Literal

import anyio
from redis.exceptions import RedisError

from ..._compat import override
from ..._errors import CoordinationError
from ._scripts import BOT_TAKE, PAUSE, PAUSE_LEFT, TAKE

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["PREFIX", "Priority", "RedisRateLimit", "budget_name", "failure"]

PREFIX: Final = "kommunicate:"
Priority = Literal["campaign", "bots"]
"""Who sends: a campaign (yields), or a bot's replies and late posts (first)."""

_BLOCK_SECONDS: Final = 0.05
"""A block of slots covers at most this much of the budget's time."""
_LATE: Final = 0.05
"""A slot missed by more than this (or one interval) is dropped, not used late.
Any second then sees at most `rate * (1 + _LATE)` sends from late wakes; a smaller
value drops most slots of a busy process (event-loop lag of 10-30 ms is common on
a loaded machine) and the campaign crawls."""
_MAX_LATE: Final = 4
"""Late slots one send gives up before it takes the next one regardless: a
process that is always late still sends (the bound above then loosens)."""
_PAUSE_CHECK_MS: Final = 50.0
"""A wait longer than this looks again for a 429 pause set meanwhile."""


def failure(what: str, exc: BaseException) -> CoordinationError:
    return CoordinationError(f"{what}: Redis failed ({type(exc).__name__}: {exc})")


def budget_name(api_key: str) -> str:
    """The Redis name of an API key's budget: a digest, never the key itself
    (Redis keys show up in `MONITOR`, `KEYS` and slow logs)."""
    digest = hashlib.sha256(b"kommunicate-async budget\0" + api_key.encode())
    return f"key-{digest.hexdigest()[:20]}"


class RedisRateLimit:
    """At most `rate` sends a second for one API key, across every worker, every
    campaign and every bot of the app; one 429 pause for all of them.

    Kong limits a Kommunicate application per API key, so the budget is named by
    a digest of the key (`api_key=`, never stored or sent); `name` gives an
    explicit budget instead (a campaign of its own, a test). Campaign workers take
    their slots from Redis in blocks (one round trip for up to `block` sends);
    `for_bots()` is the same budget for a bot's replies and late posts, which go
    first: they never wait behind the campaigns' reservations, and each one pushes
    the campaigns back one slot.

    Args:
        redis: a `redis.asyncio.Redis` client.
        name: an explicit budget name (instead of `api_key`).
        api_key: the app's API key; its digest names the budget.
        rate: sends a second for the whole budget (set it a few percent under
            the server's limit: Kong counts in fixed one-second windows).
        burst: sends that may start at once after an idle spell (1: none).
        block: most slots a worker takes in one round trip (1: one a send).
        lead: seconds a campaign may reserve ahead; the longest a bot overtakes.
        priority: "campaign" or "bots" (what `for_bots()` makes).
        max_late: seconds a send may start after its slot (default: 50 ms or
            one interval, the larger); a process that wakes later drops the
            slot and takes a fresh one (`late_slots` counts them).
    """

    def __init__(
        self,
        redis: Redis,
        name: str | None = None,
        *,
        api_key: str | None = None,
        rate: float,
        burst: int = 1,
        block: int = 32,
        lead: float = 0.1,
        priority: Priority = "campaign",
        max_late: float | None = None,
    ) -> None:
        _check(rate, burst, block, lead, priority)
        if max_late is not None and not max_late >= 0:
            raise ValueError("max_late must be a number of seconds >= 0")
        if (name is None) == (api_key is None):
            raise ValueError("give the budget's name or the app's api_key (one)")
        self.name = name if name is not None else budget_name(api_key or "")
        self.rate, self.burst, self.block, self.lead = rate, burst, block, lead
        self.priority: Priority = priority
        self._redis: Any = redis  # redis-py types its results sync-or-async
        self._interval_ms = 1000.0 / rate
        base = f"{PREFIX}{self.name}"
        self._keys = [f"{base}:tat", f"{base}:pause", f"{base}:bots"]
        self._per_block = max(1, min(block, math.floor(rate * _BLOCK_SECONDS)))
        self._late = max(1 / rate, _LATE) if max_late is None else max_late
        self.late_slots = 0
        """Slots dropped because this process woke too late for them."""
        self._take: Any = redis.register_script(TAKE)
        self._bot_take: Any = redis.register_script(BOT_TAKE)
        self._pause: Any = redis.register_script(PAUSE)
        self._left: Any = redis.register_script(PAUSE_LEFT)
        self._slots: deque[float] = deque()
        """This worker's reserved slots (monotonic seconds), earliest first."""
        self._refill: asyncio.Future[None] | None = None

    def for_bots(self) -> RedisRateLimit:
        """The same budget for a bot's replies and late posts: they go first."""
        return RedisRateLimit(
            self._redis,
            self.name,
            rate=self.rate,
            burst=self.burst,
            block=1,
            lead=self.lead,
            priority="bots",
        )

    @override
    def __repr__(self) -> str:
        return f"RedisRateLimit({self.name!r}, rate={self.rate:g}, {self.priority})"

    async def wait(self) -> None:
        """Return when one more send may start (past any 429 pause)."""
        if self.priority == "bots":
            wait_ms = await self._call(
                self._bot_take, self._keys, [self._interval_ms, self.burst - 1]
            )
            await self._sleep(wait_ms)
            return
        for tries_left in range(_MAX_LATE, -1, -1):
            slot = await self._next_slot(drop_stale=tries_left > 0)
            wait_ms = (slot - time.monotonic()) * 1000
            if wait_ms > 0:
                await self._sleep(wait_ms)
            if time.monotonic() - slot <= self._late or not tries_left:
                return
            # Woken too late (a stalled process): sending now would bunch with the
            # sends of the slots after it; take a fresh one instead.
            self.late_slots += 1

    async def _next_slot(self, *, drop_stale: bool) -> float:
        """A slot of this worker's block (a fresh block when none is left)."""
        slots = self._slots
        refills = 0
        while True:
            if drop_stale and refills < _MAX_LATE:
                stale = time.monotonic() - self._late
                while slots and slots[0] < stale:  # used this late they would bunch
                    slots.popleft()
                    self.late_slots += 1
            if slots:
                return slots.popleft()
            refills += 1
            refill = self._refill
            if refill is None:
                refill = self._refill = asyncio.ensure_future(self._fetch_block())
            try:
                await asyncio.shield(refill)
            finally:
                if refill.done():
                    if self._refill is refill:
                        self._refill = None
                    refill.result()  # a CoordinationError reaches every waiter

    async def _fetch_block(self) -> None:
        args = [self._interval_ms, self.burst - 1, self._per_block, self.lead * 1000]
        while True:
            try:
                wait_ms, count = await self._take(keys=self._keys[:2], args=args)
            except RedisError as exc:
                raise failure("the shared rate limit", exc) from None
            wait = float(wait_ms) / 1000
            if int(count):
                first = time.monotonic() + wait
                step = self._interval_ms / 1000
                self._slots.extend(first + i * step for i in range(int(count)))
                return
            await anyio.sleep(wait)  # too far ahead: come back when it is near

    async def _sleep(self, wait_ms: float) -> None:
        if wait_ms <= 0:
            return
        await anyio.sleep(wait_ms / 1000)
        if wait_ms > _PAUSE_CHECK_MS:  # a 429 may have paused everyone since
            left = await self._call(self._left, self._keys[1:2], [])
            if left > 0:
                await anyio.sleep(left / 1000)

    async def _call(self, script: Any, keys: list[str], args: list[float]) -> float:
        try:
            return float(await script(keys=keys, args=args))
        except RedisError as exc:
            raise failure("the shared rate limit", exc) from None

    async def pause(self, seconds: float) -> None:
        """Pause every sender of the budget for `seconds` (after a 429)."""
        self._slots.clear()  # reserved before the 429: not to be used now
        await self._call(self._pause, self._keys[1:2], [math.ceil(seconds * 1000)])


def _check(rate: float, burst: int, block: int, lead: float, priority: str) -> None:
    if not (rate > 0 and math.isfinite(rate)):
        raise ValueError("rate must be a number of sends a second > 0")
    if burst < 1:
        raise ValueError("burst must be >= 1")
    if block < 1:
        raise ValueError("block must be >= 1")
    if not (0 <= lead <= 60):
        raise ValueError("lead must be between 0 and 60 seconds")
    if priority not in ("campaign", "bots"):
        raise ValueError('priority is "campaign" or "bots"')
