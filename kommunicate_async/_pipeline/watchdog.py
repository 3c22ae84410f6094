"""One timer per session for every attempt's timeout, instead of one per request.

aiohttp's per-request `ClientTimeout(total=...)` arms and disarms a timer handle and
a context object on every request; replacing it (with `await` + `release()` for
`async with`) saved 22k instructions of a ~488k-instruction send (benchmarks/README.md,
"Where the time went"). The watchdog keeps in-flight attempts
in a dict and one `call_at` handle for the earliest deadline; an attempt that
outlives its deadline has its task cancelled, and the transport turns that
cancellation (and only that one) into `APITimeoutError`, as `asyncio.timeout` does.
"""

from __future__ import annotations

import asyncio
from typing import Final

__all__ = ["Watch", "Watchdog"]

_EARLY: Final = 0.001
"""Seconds of slack: a handle may fire a hair before its deadline."""


class Watch:
    """One watched attempt."""

    __slots__ = ("at", "fired", "task")

    def __init__(self, task: asyncio.Task[object], at: float) -> None:
        self.task = task
        self.at = at
        self.fired = False


class Watchdog:
    """Cancels tasks whose attempt ran past its deadline; one timer handle."""

    __slots__ = ("_entries", "_handle", "_loop", "_next")

    def __init__(self) -> None:
        self._entries: dict[Watch, None] = {}
        self._handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._next = 0.0

    def __len__(self) -> int:
        return len(self._entries)

    def watch(self, timeout: float) -> Watch:
        """Watch the current task for `timeout` seconds (until `unwatch`)."""
        loop = asyncio.get_running_loop()
        if (
            loop is not self._loop
        ):  # a new event loop: the old handle died with its loop
            self._loop, self._handle, self._entries = loop, None, {}
        task = asyncio.current_task(loop)
        if task is None:  # pragma: no cover - aiohttp itself needs a task
            raise RuntimeError("an HTTP attempt must run in an asyncio task")
        entry = Watch(task, loop.time() + timeout)
        self._entries[entry] = None
        if self._handle is None or entry.at < self._next:
            self._arm(loop, entry.at)
        return entry

    def unwatch(self, entry: Watch) -> None:
        """The attempt is over (answered, failed or cancelled)."""
        self._entries.pop(entry, None)

    def _arm(self, loop: asyncio.AbstractEventLoop, at: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._next = at
        self._handle = loop.call_at(at, self._fire)

    def _fire(self) -> None:
        self._handle = None
        loop = self._loop
        if loop is None:  # pragma: no cover - armed only with a loop
            return
        now = loop.time() + _EARLY
        earliest: float | None = None
        for entry in list(self._entries):
            if entry.at <= now:
                del self._entries[entry]
                entry.fired = True
                entry.task.cancel()
            elif earliest is None or entry.at < earliest:
                earliest = entry.at
        if earliest is not None:
            self._arm(loop, earliest)
