"""One campaign over many workers: the small interfaces a batch shares through.

`iter_send(rate_limit=...)` takes a number (this process's own pace) or a
`RateLimiter`; `checkpoint=` takes a path (the JSONL file) or a `BatchStore`.
`kommunicate_async.scaleout.redis` implements both on Redis (the `redis` extra):
one send budget per API key and one 429 pause for every worker, campaign and bot of
an app (bots first), and one checkpoint that a job retried on another machine
resumes. `LocalRateLimit` is that budget within one process. Another store
(PostgreSQL, a shared volume) is one class with these few methods.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from .._batch.checkpoint import Begin, CheckpointLine, Uncertain
from .._batch.pacing import LocalRateLimit
from .._errors import CoordinationError
from .._public import claim

__all__ = [
    "BatchStore",
    "Begin",
    "CheckpointLine",
    "CoordinationError",
    "LocalRateLimit",
    "RateLimiter",
    "Uncertain",
]


@runtime_checkable
class RateLimiter(Protocol):
    """A send rate shared by every worker of a campaign, and its 429 pause."""

    async def wait(self) -> None:
        """Return when one more send may start (the campaign's pause included)."""
        ...

    async def pause(self, seconds: float) -> None:
        """Hold every worker of the campaign for `seconds` (after a 429)."""
        ...


@runtime_checkable
class BatchStore(Protocol):
    """A checkpoint shared by the workers of a campaign (the JSONL file,
    `checkpoint=path`, has the same face and semantics: delivered items are
    skipped, in-flight ones reconciled)."""

    async def open(self) -> None:
        """Get ready (connect, check); before the first item."""
        ...

    async def begin(self, key: str, index: int) -> Begin:
        """Look the item up, and mark it in flight unless it was delivered."""
        ...

    async def finish(self, line: CheckpointLine) -> None:
        """Record an item's final status (`delivered`, `failed`, `ambiguous`)."""
        ...

    async def clock(self, offset: int) -> None:
        """Keep the server's clock offset (ms) for later runs' reconcile."""
        ...

    async def close(self) -> None:
        """Release what `open` took."""
        ...


claim(__name__, globals())  # reprs and tracebacks read the public path
LocalRateLimit.__module__ = __name__  # defined beside the batch that paces with it
