"""Pause, resume, cancel and set_rate as every worker sees them: one Redis hash
per campaign, written by the workflow (a local activity) and read before each
send by `ControlledRateLimit`.

Why a Redis switch and not cancelling the activities: Temporal tells an
activity it was cancelled only in the answer to its next heartbeat, and
heartbeats are throttled (seconds); a shared switch that the pacer reads at
most `max_age` seconds old stops every worker's sends within tens of
milliseconds, and a paused chunk keeps its place (nothing re-read, nothing
reconciled) when it resumes.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, Final

import anyio

from ..._errors import CoordinationError
from ..redis import RedisRateLimit
from ._types import Control

try:
    from redis.exceptions import RedisError
except ImportError as exc:  # pragma: no cover - the extra is not installed
    raise ImportError(
        "kommunicate_async.scaleout.temporal needs redis-py: "
        'pip install "kommunicate-async[temporal]"'
    ) from exc

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["ControlledRateLimit", "read_control", "write_control"]

_PREFIX: Final = "kommunicate:"
_TTL: Final = 7 * 24 * 3600
POLL: Final = 0.05
"""Seconds between two looks at the switch while paused."""


def control_key(campaign: str) -> str:
    """The campaign's switch in Redis."""
    return f"{_PREFIX}{campaign}:control"


async def write_control(redis: Redis, control: Control) -> None:
    """Set the campaign's switch (every worker follows within `max_age`)."""
    client: Any = redis
    try:
        async with client.pipeline(transaction=True) as pipe:
            pipe.hset(
                control_key(control.campaign),
                mapping={
                    "paused": int(control.paused),
                    "cancelled": int(control.cancelled),
                    "rate": repr(float(control.rate)),
                },
            )
            pipe.expire(control_key(control.campaign), _TTL)
            await pipe.execute()
    except RedisError as exc:
        raise CoordinationError(
            f"the campaign switch: Redis failed ({type(exc).__name__}: {exc})"
        ) from None


async def read_control(redis: Redis, campaign: str) -> Control:
    """The campaign's switch (not paused, not cancelled, rate 0: none set)."""
    client: Any = redis
    try:
        raw: dict[bytes | str, bytes | str] = await client.hgetall(
            control_key(campaign)
        )
    except RedisError as exc:
        raise CoordinationError(
            f"the campaign switch: Redis failed ({type(exc).__name__}: {exc})"
        ) from None
    fields = {
        (k.decode() if isinstance(k, bytes) else k): (
            v.decode() if isinstance(v, bytes) else v
        )
        for k, v in raw.items()
    }
    return Control(
        campaign,
        paused=fields.get("paused") == "1",
        cancelled=fields.get("cancelled") == "1",
        rate=float(fields.get("rate") or 0.0),
    )


class ControlledRateLimit:
    """The campaign's shared `RedisRateLimit`, behind its pause/cancel switch.

    A `scaleout.RateLimiter`: `iter_send` calls `wait()` before every send
    attempt. It returns only when the campaign is neither paused nor
    cancelled, a slot of the shared rate is reserved, and (looking again
    after sleeping to that slot) still neither. Paused, it waits; after a
    pause it reserves a new slot, so a resume is no burst. Cancelled, it
    never returns (the chunk's activity stops the batch). `rate` follows
    `set_rate`. `granted` counts the sends let through.
    """

    def __init__(
        self, redis: Redis, campaign: str, *, rate: float, max_age: float = 0.02
    ) -> None:
        self._redis = redis
        self._campaign = campaign
        self._max_age = max_age
        self._rate: float = rate
        self._limit = RedisRateLimit(redis, campaign, rate=rate)
        self._control = Control(campaign, rate=rate)
        self._read_at = -1.0
        self._lock = asyncio.Lock()
        self.granted = 0
        """Sends let through (one per send attempt)."""
        self.sending: set[asyncio.Task[Any] | None] = set()
        """The tasks whose send was let through and whose item has no outcome
        yet (`sent()` when it has)."""

    @property
    def control(self) -> Control:
        """The switch as last read."""
        return self._control

    async def refresh(self, max_age: float | None = None) -> Control:
        """The switch, read again if older than `max_age` (one read at a time)."""
        age = self._max_age if max_age is None else max_age
        if time.monotonic() - self._read_at <= age:
            return self._control
        async with self._lock:
            if time.monotonic() - self._read_at > age:
                control = await read_control(self._redis, self._campaign)
                self._read_at = time.monotonic()
                if control.rate > 0 and control.rate != self._rate:
                    self._rate = control.rate  # same Redis keys: a seamless switch
                    self._limit = RedisRateLimit(
                        self._redis, self._campaign, rate=control.rate
                    )
                self._control = control
        return self._control

    async def _hold(self) -> None:
        """Return once the campaign is neither paused nor cancelled."""
        control = await self.refresh()
        while control.paused or control.cancelled:
            await anyio.sleep(POLL)
            control = await self.refresh(POLL / 2)

    async def wait(self) -> None:
        """Return when one more send may start."""
        task = asyncio.current_task()
        self.sending.discard(task)  # asking again: its last attempt is over
        while True:
            await self._hold()
            await self._limit.wait()
            control = await self.refresh()
            if not (control.paused or control.cancelled):
                self.granted += 1
                self.sending.add(task)
                return

    def sent(self) -> None:
        """The calling task's item has its outcome (the store's `finish`)."""
        self.sending.discard(asyncio.current_task())

    async def pause(self, seconds: float) -> None:
        """A 429: pause every worker of the campaign (the shared limit's pause)."""
        await self._limit.pause(seconds)
