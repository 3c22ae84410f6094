"""What a reply's rate-limit headers say is left, so senders slow down before a 429.

Kong's rate-limiting plugin (Kong docs, "Rate Limiting" plugin, "Headers sent to
the client") answers `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`
(seconds, for the window nearest its limit) and, per configured window,
`X-RateLimit-Limit-<Second|Minute|...>` and `X-RateLimit-Remaining-<...>`.
UNCERTAIN whether Kommunicate enables them: nothing here needs them, values are
read tolerantly ("5", "5, 100;w=1", garbage: ignored), and with none nothing
changes (tests/test_rate_budget.py). Kong counts in fixed windows aligned to the
clock, so a per-second or per-minute window ends at the next boundary.

When nothing is left, a call waits for the window to end instead of earning a
429. A campaign (any call, in fact) counts the requests it started since the one a
report answered as spent already; a bot's reply or late post (`bots_first()`)
trusts the report, so it may take what those would have: bots first here too.
Within a window the lowest report stands (a slow reply from earlier says more is
left than there is).
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Final

from multidict import istr

if TYPE_CHECKING:
    from collections.abc import Generator, Mapping

__all__ = ["Headroom", "bots_first", "for_bots"]

_REMAINING: Final = istr("RateLimit-Remaining")
_LIMIT: Final = istr("RateLimit-Limit")
_RESET: Final = istr("RateLimit-Reset")
_WINDOWS: Final = (
    (istr("X-RateLimit-Remaining-Second"), istr("X-RateLimit-Limit-Second"), 1),
    (istr("X-RateLimit-Remaining-Minute"), istr("X-RateLimit-Limit-Minute"), 60),
)
_SECOND: Final = _WINDOWS[0][0]
_MINUTE: Final = _WINDOWS[1][0]
MAX_HOLD: Final = 60.0
"""The longest a call waits for a window to end (a 429 would say the rest)."""

_FOR_BOTS: ContextVar[bool] = ContextVar("kommunicate_for_bots", default=False)


@contextmanager
def bots_first() -> Generator[None]:
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

    __slots__ = ("hot", "limit", "mark", "remaining", "resets", "sent")

    def __init__(self) -> None:
        self.remaining: float | None = None
        """What the last reply said is left of its window (None: not known)."""
        self.limit: float | None = None
        self.resets = 0.0
        """When that window ends (monotonic)."""
        self.sent = 0
        """Requests started so far (the client numbers each attempt)."""
        self.mark = 0.0
        """The lowest `remaining + number of the request it answered` this
        window: `mark - sent` is what is left once the requests started since
        are counted (the server may not have counted them yet)."""
        self.hot = False
        """Half the window or more is spent: calls count themselves and may wait."""

    def observe(self, headers: Mapping[str, str], number: int, started: float) -> None:
        """Read the rate-limit headers (no-op without them) of the reply to the
        request numbered `number` (`sent` before it), started at `started`
        (monotonic)."""
        get = headers.get  # every reply comes here: with no report, no more calls
        if get(_REMAINING) is None and get(_SECOND) is None and get(_MINUTE) is None:
            return
        read = _read(headers)
        if read is None:
            return
        remaining, limit, aligned, reset = read
        if aligned:
            position = time.time() % aligned
            if time.monotonic() - started > position:
                return  # sent before this window began: it counted in the last one
            reset = aligned - position
        self._update(remaining, limit, min(reset, MAX_HOLD), number)

    def _update(
        self, remaining: float, limit: float | None, window: float, number: int
    ) -> None:
        resets = time.monotonic() + window
        mark = remaining + number + 1
        known = self.remaining
        if known is not None and resets < self.resets + 0.5:  # the same window:
            remaining = min(remaining, known)  # a slower reply may say more is left
            mark = min(mark, self.mark)
        self.remaining, self.limit, self.resets = remaining, limit, resets
        self.mark = mark
        self.hot = remaining <= (limit / 2 if limit else 10)

    def hold(self, *, bots: bool) -> float:
        """Seconds to wait before one more call may start (0: start now)."""
        remaining = self.remaining
        now = time.monotonic()
        if remaining is None or now >= self.resets:  # a new window: not known yet
            self.remaining, self.hot = None, False
            return 0.0
        if (remaining if bots else self.mark - self.sent) > 0:
            return 0.0
        return self.resets - now


def _read(
    headers: Mapping[str, str],
) -> tuple[float, float | None, int, float] | None:
    """(remaining, limit, the clock-aligned window's seconds or 0, seconds to the
    reset when not aligned), or None without readable headers."""
    get = headers.get
    raw = get(_REMAINING)
    if raw is not None and (remaining := _count(raw)) is not None:
        limit = _count(get(_LIMIT))
        per_second = _count(get(_WINDOWS[0][0]))
        aligned = 1 if per_second == remaining else 0  # the second is the binding one
        return remaining, limit, aligned, _count(get(_RESET)) or 1.0
    for remaining_name, limit_name, seconds in _WINDOWS:
        raw = get(remaining_name)
        if raw is not None and (remaining := _count(raw)) is not None:
            return remaining, _count(get(limit_name)), seconds, 0.0
    return None
