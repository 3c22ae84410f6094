"""Retry decisions, back-off and Retry-After maths. Pure: no I/O, no clock of its own.

The policy (docs/wire.md#retries: a send is never retried blindly):

* A request that certainly never reached the server (connect failed) and a 429
  (the server refused it unprocessed) may always be retried.
* Timeouts, disconnects and 5xx are retried only for idempotent calls. For a
  message send they are *ambiguous*: the error is raised with `ambiguous=True`
  and the caller (or the batch sender's reconcile step) decides.
* Every retry spends from a session-wide `RetryBudget`, so an outage cannot
  multiply traffic: once the budget is spent, retries are capped to a fraction of
  first attempts.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Final

from .._errors import (
    APIConnectionError,
    KommunicateError,
    RateLimitError,
    ServerError,
)

__all__ = ["Backoff", "RetryBudget", "is_retryable", "parse_retry_after"]

MAX_RETRY_AFTER: Final = 300.0
"""A Retry-After beyond five minutes is not waited for: the call fails instead."""


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date).

    Args:
        value: the header value, or None.
        now: the current wall-clock time (epoch seconds), for the HTTP-date form.
    """
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - now
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def is_retryable(error: KommunicateError, *, idempotent: bool) -> bool:
    """Whether `error` may be retried at all for a call of this kind."""
    if isinstance(error, RateLimitError):
        return True
    if isinstance(error, APIConnectionError):
        return idempotent or not error.sent
    return idempotent and isinstance(error, ServerError)


@dataclass(slots=True)
class Backoff:
    """Capped exponential back-off with equal jitter: half fixed, half random.

    Half fixed keeps a floor under every wait (no hammering at ~0 s); half random
    spreads out clients that failed together.
    """

    base: float = 0.5
    cap: float = 8.0
    rng: random.Random | None = None

    def delay(self, retry_number: int) -> float:
        """Seconds before retry `retry_number` (0 for the first retry)."""
        ceiling = min(self.cap, self.base * (2.0 ** min(retry_number, 30)))
        rand = (self.rng or random).random()
        return ceiling / 2 + rand * ceiling / 2


class RetryBudget:
    """A token bucket shared by every call of a session.

    Each first attempt deposits `ratio` tokens (up to `capacity`); each retry takes
    one. It starts with `reserve` tokens so a quiet session can still retry, and
    in a long outage retries settle at `ratio` × first attempts.
    """

    __slots__ = ("balance", "capacity", "ratio", "reserve")

    def __init__(
        self, *, ratio: float = 0.2, reserve: float = 20.0, capacity: float = 100.0
    ) -> None:
        if ratio < 0 or reserve < 0 or capacity < reserve:
            raise ValueError(
                "RetryBudget needs ratio >= 0 and 0 <= reserve <= capacity"
            )
        self.ratio = ratio
        self.reserve = reserve
        self.capacity = capacity
        self.balance = reserve
        """Tokens available now."""

    def record_attempt(self) -> None:
        """Note a first attempt (not a retry)."""
        self.balance = min(self.capacity, self.balance + self.ratio)

    def refund(self) -> None:
        """Give back a token whose retry made progress (a reconcile read that
        found the message: the item is settled, no resend follows)."""
        self.balance = min(self.capacity, self.balance + 1.0)

    def try_spend(self) -> bool:
        """Take one token for a retry; False when the budget is spent."""
        if self.balance >= 1.0 - 1e-9:  # ten deposits of 0.1 sum to 0.999…
            self.balance = max(0.0, self.balance - 1.0)
            return True
        return False
