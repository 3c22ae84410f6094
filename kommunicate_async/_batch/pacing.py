"""A client-side request pacer: at most `rate` starts per second, shared by workers."""

from __future__ import annotations

import time

import anyio

__all__ = ["Pacer"]


class Pacer:
    """Hands out start times `1/rate` apart; a caller sleeps until its slot.

    Slots are claimed before sleeping, so N waiting workers spread out instead of
    all waking at once.
    """

    __slots__ = ("_interval", "_next")

    def __init__(self, rate: float) -> None:
        if not rate > 0:
            raise ValueError("rate must be > 0")
        self._interval = 1.0 / rate
        self._next = 0.0

    async def wait(self) -> None:
        """Return when this caller may start its request."""
        now = time.monotonic()
        slot = self._next if self._next > now else now
        self._next = slot + self._interval
        if slot > now:
            await anyio.sleep(slot - now)

    async def pause(self, seconds: float) -> None:
        """Nothing to share: a 429 already pauses this process's whole session."""
