"""The in-process send budget: at most `rate` starts a second, bots first.

`rate_limit=<number>` paces one batch with it; a `LocalRateLimit` given to a
campaign and (`for_bots()`) to a bot of the same process shares one budget between
them, with the bot's replies and late posts first, as `RedisRateLimit` does across
processes (docs/guides/rate-limits.md).
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Literal

import anyio

from .._compat import override

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

__all__ = ["LocalRateLimit", "Pacer"]

Priority = Literal["campaign", "bots"]


class _Budget:
    """The state the views of one budget share (monotonic seconds)."""

    __slots__ = ("bots", "paused", "tat")

    def __init__(self) -> None:
        self.tat = 0.0
        """When the next campaign send may start."""
        self.bots = 0.0
        """When the next bot send may start."""
        self.paused = 0.0
        """When a 429's pause ends."""


class LocalRateLimit:
    """At most `rate` sends a second in this process, shared by a campaign and the
    bot that answers beside it.

    Campaign sends (`wait()`) take slots `1/rate` apart, claimed before sleeping so
    waiting workers spread out instead of waking at once, and never more than
    `lead` seconds ahead. `for_bots()` is the same budget for a bot's replies and
    late posts: they never queue behind the campaign's slots, and each one pushes
    the campaign back one slot (the campaign yields). `pause()` holds both.

    Args:
        rate: sends a second for the whole budget.
        burst: sends that may start at once after an idle spell (1: none).
        lead: seconds a campaign send may reserve ahead (None: no bound; the
            longest a bot overtakes the campaign's queue otherwise).
        clock: the monotonic clock, in seconds (a test's virtual one).
        sleep: how to wait that many seconds (a test's virtual one).
    """

    __slots__ = (
        "_budget",
        "_burst",
        "_clock",
        "_interval",
        "_lead",
        "_sleep",
        "priority",
        "rate",
    )

    def __init__(
        self,
        rate: float,
        *,
        burst: int = 1,
        lead: float | None = 0.1,
        priority: Priority = "campaign",
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        if not (rate > 0 and math.isfinite(rate)):
            raise ValueError("rate must be > 0")
        if burst < 1:
            raise ValueError("burst must be >= 1")
        if priority not in ("campaign", "bots"):
            raise ValueError('priority is "campaign" or "bots"')
        self.rate = rate
        self.priority: Priority = priority
        self._interval = 1.0 / rate
        self._burst = (burst - 1) * self._interval
        self._lead = math.inf if lead is None else lead
        self._budget = _Budget()
        self._clock = clock
        self._sleep = sleep

    def for_bots(self) -> LocalRateLimit:
        """The same budget for a bot's replies and late posts: they go first."""
        view = LocalRateLimit(
            self.rate, priority="bots", clock=self._clock, sleep=self._sleep
        )
        view._burst, view._lead, view._budget = self._burst, self._lead, self._budget
        return view

    @override
    def __repr__(self) -> str:
        return f"LocalRateLimit(rate={self.rate:g}, {self.priority})"

    async def wait(self) -> None:
        """Return when this caller may start its request."""
        budget = self._budget
        if self.priority == "bots":
            now = self._clock()
            slot = max(budget.bots, now - self._burst, budget.paused)
            budget.bots = slot + self._interval
            budget.tat = max(budget.tat, slot) + self._interval  # the campaign yields
        else:
            slot, now = await self._campaign_slot(budget)
        if slot > now:
            await self._sleep(slot - now)

    async def _campaign_slot(self, budget: _Budget) -> tuple[float, float]:
        """A campaign slot at most `lead` ahead (waiting until one is)."""
        while True:
            now = self._clock()
            slot = budget.tat
            if slot < now - self._burst:
                slot = now - self._burst
            if slot < budget.paused:
                slot = budget.paused
            if slot - now <= self._lead + 1e-3:  # (float error must not spin)
                budget.tat = slot + self._interval
                return slot, now
            await self._sleep(slot - now - self._lead)

    async def pause(self, seconds: float) -> None:
        """Hold every sender of the budget for `seconds` (after a 429)."""
        budget = self._budget
        budget.paused = max(budget.paused, self._clock() + seconds)


class Pacer(LocalRateLimit):
    """What `rate_limit=<number>` makes: one batch's own budget (no bound on how
    far ahead its workers claim slots: nothing else shares it)."""

    __slots__ = ()

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        super().__init__(rate, lead=None, clock=clock, sleep=sleep)
