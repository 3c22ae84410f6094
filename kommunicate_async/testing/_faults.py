"""A seeded, replayable fault plan for the fake server.

Each request's fate is drawn from a hash of (seed, method, path, query, body, how many
times this exact request was seen before): the same seed and the same requests give
the same faults, whatever order concurrent requests arrive in, and a retry of a
request draws afresh.
"""

from __future__ import annotations

import hashlib
from collections import Counter, deque
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["Fault", "FaultPlan", "RouteFaults"]


class Fault(StrEnum):
    """What the fake does to one request instead of (or besides) answering it."""

    NONE = "none"
    ERROR_500 = "500"
    ERROR_503 = "503"
    RATE_LIMIT = "429"
    """429 with `Retry-After`; not processed."""
    RESET_BEFORE = "reset-before"
    """Drop the connection without processing the request."""
    RESET_AFTER = "reset-after"
    """Process the request, then drop the connection before answering."""
    TRUNCATE = "truncate"
    """Process, then answer HTTP 200 with half of the JSON body."""
    DELAY = "delay"
    """Wait `delay_seconds`, then answer normally."""


@dataclass(frozen=True, slots=True)
class RouteFaults:
    """Probabilities (0..1) of each fault for one route; the rest is answered."""

    error_500: float = 0.0
    error_503: float = 0.0
    rate_limit: float = 0.0
    reset_before: float = 0.0
    reset_after: float = 0.0
    truncate: float = 0.0
    delay: float = 0.0
    retry_after: float = 1.0
    """Seconds sent in `Retry-After` with a 429."""
    delay_seconds: float = 0.5

    def __post_init__(self) -> None:
        total = sum(p for _, p in self._weights())
        if total > 1.0 + 1e-9 or any(p < 0 for _, p in self._weights()):
            raise ValueError("fault probabilities must be >= 0 and sum to at most 1")

    def _weights(self) -> list[tuple[Fault, float]]:
        return [
            (Fault.ERROR_500, self.error_500),
            (Fault.ERROR_503, self.error_503),
            (Fault.RATE_LIMIT, self.rate_limit),
            (Fault.RESET_BEFORE, self.reset_before),
            (Fault.RESET_AFTER, self.reset_after),
            (Fault.TRUNCATE, self.truncate),
            (Fault.DELAY, self.delay),
        ]

    def pick(self, roll: float) -> Fault:
        """The fault for a uniform `roll` in [0, 1)."""
        edge = 0.0
        for fault, probability in self._weights():
            edge += probability
            if roll < edge:
                return fault
        return Fault.NONE


@dataclass
class FaultPlan:
    """Faults by route (`"POST /rest/ws/message/v2/send"`, or `"*"` for every route).

    Args:
        seed: any string or int; the same seed replays the same faults.
        routes: probabilities per route.
    """

    seed: int | str = 0
    routes: dict[str, RouteFaults] = field(default_factory=dict[str, RouteFaults])
    _scripted: dict[str, deque[Fault]] = field(default_factory=dict[str, deque[Fault]])
    _seen: Counter[str] = field(default_factory=Counter[str])
    injected: Counter[Fault] = field(default_factory=Counter[Fault])
    """How many of each fault were injected so far."""

    def script(self, route: str, *faults: Fault | str) -> None:
        """Force the next requests to `route` to meet these faults, in order."""
        queue = self._scripted.setdefault(route, deque())
        queue.extend(Fault(f) for f in faults)

    def settings(self, route: str) -> RouteFaults:
        """The probabilities that apply to `route`."""
        return self.routes.get(route) or self.routes.get("*") or _NO_FAULTS

    def decide(self, route: str, request_id: bytes) -> Fault:
        """The fate of one request (`request_id`: its query and body bytes)."""
        queue = self._scripted.get(route)
        if queue:
            fault = queue.popleft()
        else:
            settings = self.routes.get(route) or self.routes.get("*")
            if settings is None:
                return Fault.NONE
            fingerprint = hashlib.blake2b(
                f"{self.seed}\0{route}\0".encode() + request_id, digest_size=16
            ).hexdigest()
            self._seen[fingerprint] += 1
            digest = hashlib.blake2b(
                f"{fingerprint}\0{self._seen[fingerprint]}".encode(), digest_size=8
            ).digest()
            fault = settings.pick(int.from_bytes(digest, "big") / 2**64)
        if fault is not Fault.NONE:
            self.injected[fault] += 1
        return fault


_NO_FAULTS = RouteFaults()
