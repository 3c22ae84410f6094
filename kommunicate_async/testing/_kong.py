"""A Kong-style rate limit for the fake: N requests a second per API key.

What Kong's rate-limiting plugin does (Kong docs, "Rate Limiting" plugin): fixed
windows aligned to the clock (one per second here), counted per credential; every
answer carries `X-RateLimit-Limit-Second`, `X-RateLimit-Remaining-Second`,
`RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (whole seconds, up),
and a request over the limit gets 429 `{"message": "API rate limit exceeded"}`
with `Retry-After`, unprocessed. Whether Kommunicate's Kong sends these headers is
UNCERTAIN (`headers=False` models a Kong that does not).
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ._wire import json_response

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["KongLimit"]


@dataclass(slots=True)
class KongLimit:
    """`per_second` requests per API key and clock second; over it, 429.

    Attributes:
        per_second: requests a key may make in one clock second.
        headers: send the rate-limit headers (a Kong may be configured without).
        limited: 429s dealt so far, per key digest.
    """

    per_second: int
    headers: bool = True
    limited: dict[str, int] = field(default_factory=dict[str, int])
    _window: int = field(default=0, init=False, repr=False)
    _counts: dict[str, int] = field(
        default_factory=dict[str, int], init=False, repr=False
    )

    def __post_init__(self) -> None:
        if self.per_second < 1:
            raise ValueError("per_second must be >= 1")

    def admit(self, request: web.Request) -> tuple[web.Response | None, int]:
        """(a 429 to answer with, or None to go on; what is left of the window)."""
        now = time.time()
        window = math.floor(now)
        if window != self._window:
            self._window, self._counts = window, {}
        key = _credential(request)
        used = self._counts.get(key, 0)
        if used >= self.per_second:
            self.limited[key] = self.limited.get(key, 0) + 1
            response: web.Response = json_response(
                {"message": "API rate limit exceeded"}, status=429
            )
            response.headers["Retry-After"] = str(max(1, math.ceil(window + 1 - now)))
            self.stamp(response, 0, now)
            return response, 0
        self._counts[key] = used + 1
        return None, self.per_second - used - 1

    def stamp(
        self, response: web.StreamResponse, remaining: int, now: float | None = None
    ) -> None:
        """Put the window's headers on an answer."""
        if not self.headers:
            return
        now = time.time() if now is None else now
        limit, left = str(self.per_second), str(remaining)
        response.headers["X-RateLimit-Limit-Second"] = limit
        response.headers["X-RateLimit-Remaining-Second"] = left
        response.headers["RateLimit-Limit"] = limit
        response.headers["RateLimit-Remaining"] = left
        response.headers["RateLimit-Reset"] = str(
            max(1, math.ceil(math.floor(now) + 1 - now))
        )


def _credential(request: web.Request) -> str:
    """Who the request counts against: its API key (or token), as a digest."""
    secret = (
        request.headers.get("Api-Key") or request.headers.get("Authorization") or ""
    )
    return hashlib.sha256(secret.encode()).hexdigest()[:16]
