"""The batch options, declared once (`BatchOptions`), checked (`BatchSettings`),
and the dedupe key of an item that brings none."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from ._errors import InvalidRequestError

if TYPE_CHECKING:
    import os
    from collections.abc import Callable

    from .models.batch import OutgoingMessage, Progress

__all__ = ["BatchOptions", "BatchSettings", "derive_dedupe_key"]


class BatchOptions(TypedDict, total=False):
    """The options of `iter_send` and `send_many`, declared once.

    Attributes:
        concurrency: sends in flight at once (32).
        rate_limit: at most this many send attempts per second (client side). A
            429 from the server also pauses every worker until its Retry-After.
        checkpoint: a JSONL file; each item's outcome is appended, and a rerun
            with the same input and file skips the items already delivered.
        on_progress: called with a `Progress` at most every 0.1 s, and at the end.
        reconcile: when a send's outcome is ambiguous, read the conversation's
            recent messages and send again only if the item's dedupe key is not
            there. Without it an ambiguous item is reported, never re-sent.
        shard: `(k, n)`: keep only the items whose dedupe key hashes to shard k of
            n, so n processes split one input with no overlap.
        max_attempts: send attempts per item (the session's `max_retries` + 1).
    """

    concurrency: int
    rate_limit: float | None
    checkpoint: str | os.PathLike[str] | None
    on_progress: Callable[[Progress], object] | None
    reconcile: bool
    shard: tuple[int, int] | None
    max_attempts: int | None


def derive_dedupe_key(index: int, item: OutgoingMessage) -> str:
    """The key of an item without one: stable for the same input in the same order."""
    material = f"{index}\x1f{item.conversation}\x1f{item.sender or ''}\x1f{item.text}"
    return hashlib.blake2b(material.encode(), digest_size=12).hexdigest()


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _valid_shard(shard: object) -> bool:
    if not isinstance(shard, tuple):
        return False
    parts: tuple[object, ...] = shard  # pyright: ignore[reportUnknownVariableType]
    if len(parts) != 2:
        return False
    k, n = parts
    return isinstance(k, int) and isinstance(n, int) and 0 <= k < n


@dataclass(frozen=True, slots=True)
class BatchSettings:
    """`BatchOptions`, checked, with their defaults filled in."""

    concurrency: int = 32
    rate_limit: float | None = None
    checkpoint: str | os.PathLike[str] | None = None
    on_progress: Callable[[Progress], object] | None = None
    reconcile: bool = False
    shard: tuple[int, int] | None = None
    max_attempts: int = 3

    @classmethod
    def from_options(cls, options: BatchOptions, *, max_attempts: int) -> BatchSettings:
        """Checked settings; an unknown option is an `InvalidRequestError`."""
        unknown = set(options) - set(BatchOptions.__annotations__)
        if unknown:
            raise InvalidRequestError(f"unknown batch option(s): {sorted(unknown)}")
        given: dict[str, Any] = {k: v for k, v in options.items() if v is not None}
        given.setdefault("max_attempts", max_attempts)
        return cls(**given)

    def __post_init__(self) -> None:
        if not _positive_int(self.concurrency):
            raise InvalidRequestError("concurrency must be an int >= 1")
        rate: object = self.rate_limit
        if rate is not None and not (isinstance(rate, int | float) and rate > 0):
            raise InvalidRequestError(
                "rate_limit must be a number of requests/second > 0"
            )
        if self.shard is not None and not _valid_shard(self.shard):
            raise InvalidRequestError("shard must be (k, n) with 0 <= k < n")
        if not _positive_int(self.max_attempts):
            raise InvalidRequestError("max_attempts must be an int >= 1")
