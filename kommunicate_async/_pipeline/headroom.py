"""What a reply's rate-limit headers say is left, so senders slow down before a 429.

Kong's rate-limiting plugin (Kong docs, "Rate Limiting" plugin, "Headers sent to
the client") answers `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`
(seconds, for the window nearest its limit) and, per configured window,
`X-RateLimit-Limit-<Second|Minute|...>` and `X-RateLimit-Remaining-<...>`.
UNCERTAIN whether Kommunicate enables them: nothing here needs them, values are
read tolerantly ("5", "5, 100;w=1", garbage: ignored), and with none nothing
changes (tests/test_headroom.py). Kong counts in fixed windows aligned to the
clock, so a per-second or per-minute window ends at the next boundary.

While little is left, a call waits for the window to end: a campaign (any call,
in fact) keeps a reserve of the window free, a bot's reply or late post
(`bots_first()`) spends it. Calls on their way count against what the last reply
reported, and within a window the lowest report stands.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Final

from multidict import istr

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

__all__ = ["Headroom", "bots_first", "for_bots"]

_REMAINING: Final = istr("RateLimit-Remaining")
_LIMIT: Final = istr("RateLimit-Limit")
_RESET: Final = istr("RateLimit-Reset")
_WINDOWS: Final = (
    (istr("X-RateLimit-Remaining-Second"), istr("X-RateLimit-Limit-Second"), 1),
    (istr("X-RateLimit-Remaining-Minute"), istr("X-RateLimit-Limit-Minute"), 60),
)
RESERVE: Final = 0.1
"""Share of a window's limit that only bots may spend."""
MAX_HOLD: Final = 60.0
"""The longest a call waits for a window to end (a 429 would say the rest)."""

_FOR_BOTS: ContextVar[bool] = ContextVar("kommunicate_for_bots", default=False)


@contextmanager
def bots_first() -> Iterator[None]:
    """Calls made inside go first: they spend the reserve campaigns keep free."""
    token = _FOR_BOTS.set(True)
    try:
        yield
    finally:
        _FOR_BOTS.reset(token)


def for_bots() -> bool:
    """Whether the current call is a bot's (inside `bots_first()`)."""
    return _FOR_BOTS.get()


def _count(raw: str | None) -> float | None:
    """The first number of a header value ("5", "5, 100;w=1"); None if unreadable."""
    if raw is None:
        return None
    head = raw.split(",", 1)[0].split(";", 1)[0].strip()
    try:
        value = float(head)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


class Headroom:
    """The last reported window of a session (shared by its views)."""

    __slots__ = ("hot", "in_flight", "limit", "remaining", "resets")

    def __init__(self) -> None:
        self.remaining: float | None = None
        """What the last reply said is left of its window (None: not known)."""
        self.limit: float | None = None
        self.resets = 0.0
        """When that window ends (monotonic)."""
        self.in_flight = 0
        """Requests on their way (the client counts them around each attempt):
        counted against what is left, as the server may not have yet."""
        self.hot = False
        """Half the window or more is spent: calls count themselves and may wait."""

    def observe(self, headers: Mapping[str, str]) -> None:
        """Read a reply's rate-limit headers (no-op without them)."""
        remaining = _count(headers.get(_REMAINING))
        if remaining is not None:
            limit = _count(headers.get(_LIMIT))
            ends = _count(headers.get(_RESET))
            window = 1.0 if ends is None else ends
            if ends is not None and headers.get(_WINDOWS[0][0]) == str(int(remaining)):
                window = min(window, _to_boundary(1))  # the second is the binding one
        else:
            for remaining_name, limit_name, seconds in _WINDOWS:
                remaining = _count(headers.get(remaining_name))
                if remaining is not None:
                    limit = _count(headers.get(limit_name))
                    window = _to_boundary(seconds)
                    break
            else:
                return
        self._update(remaining, limit, min(window, MAX_HOLD))

    def _update(self, remaining: float, limit: float | None, window: float) -> None:
        resets = time.monotonic() + window
        known = self.remaining
        if known is not None and resets < self.resets + 0.5:  # the same window:
            remaining = min(remaining, known)  # a slower reply may say more is left
        self.remaining, self.limit, self.resets = remaining, limit, resets
        self.hot = remaining <= (limit / 2 if limit else 10)

    def hold(self, *, bots: bool) -> float:
        """Seconds to wait before one more call may start (0: start now)."""
        remaining = self.remaining
        now = time.monotonic()
        if remaining is None or now >= self.resets:  # a new window: not known yet
            self.remaining, self.hot = None, False
            return 0.0
        floor = 0.0 if bots else max(1.0, math.ceil((self.limit or 0) * RESERVE))
        if remaining - self.in_flight > floor:
            return 0.0
        return self.resets - now


def _to_boundary(seconds: int) -> float:
    """Seconds until the clock's next multiple of `seconds` (Kong's windows)."""
    return seconds - time.time() % seconds
