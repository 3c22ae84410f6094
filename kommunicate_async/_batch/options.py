"""The batch options, declared once (`BatchOptions`), checked (`BatchSettings`),
and the dedupe key of an item that brings none."""

from __future__ import annotations

import hashlib
import math
from array import array
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypedDict

import msgspec

from .._errors import InvalidRequestError
from .sendall import MAX_TARGETS

if TYPE_CHECKING:
    import os
    from collections.abc import Callable, Mapping

    from ..models.batch import OutgoingMessage, Progress
    from ..scaleout import BatchStore, RateLimiter
    from .echoes import EchoStore
    from .redis_echoes import RedisEchoStore

__all__ = [
    "BatchOptions",
    "BatchSettings",
    "Occurrences",
    "content_hex",
    "content_key",
    "derive_dedupe_key",
]


class BatchOptions(TypedDict, total=False):
    """The options of `iter_send` and `send_many`, declared once.

    Attributes:
        concurrency: sends in flight at once (32), at most the session's
            `max_connections` (a send waiting for a connection only waits).
        rate_limit: at most this many send attempts per second (client side), or
            a `scaleout.RateLimiter` shared by many workers (one limit, one 429
            pause for all). A 429 also pauses every worker until its Retry-After.
        checkpoint: a JSONL file; each item's outcome is appended, and a rerun
            with the same input and file skips the items already delivered. Or a
            `scaleout.BatchStore` shared by many workers (e.g. on Redis).
        on_progress: called with a `Progress` at most every 0.1 s, and at the end.
        reconcile: when a send's outcome is ambiguous, read the conversation's
            recent messages and send again only if the item's dedupe key is not
            there. Without it an ambiguous item is reported, never re-sent.
        shard: `(k, n)`: keep only the items whose dedupe key hashes to shard k of
            n, so n processes split one input with no overlap.
        max_attempts: send attempts per item (the session's `max_retries` + 1).
        settle: seconds to let a send that may have reached the server land
            before reconcile reads the conversation (3.0): a commit slower than
            this can still be sent twice (then reported, see docs/guides/bulk-sends.md).
        reconcile_lookback: how far back (seconds) reconcile reads when the
            server's clock offset is unknown (300.0); a server clock further
            behind than this can hide a send.
        broadcast: group items that share their sender, text and metadata into
            `message/sendall` requests (True); each item still gets its own
            result. False: one `message/v2/send` per item.
        broadcast_chunk: conversations per `message/sendall` request (2-50, 50).
        echoes: an `EchoStore` (this process) or `RedisEchoStore` (shared) fed
            by the message webhook: an ambiguous item whose echo arrives is
            `delivered` without a read.
    """

    concurrency: int
    rate_limit: float | RateLimiter | None
    checkpoint: str | os.PathLike[str] | BatchStore | None
    on_progress: Callable[[Progress], object] | None
    reconcile: bool
    shard: tuple[int, int] | None
    max_attempts: int | None
    settle: float
    reconcile_lookback: float
    broadcast: bool
    broadcast_chunk: int
    echoes: EchoStore | RedisEchoStore | None


def derive_dedupe_key(index: int, item: OutgoingMessage) -> str:
    """The key of an item without one in a checkpoint an earlier version wrote:
    stable for the same input in the same order (the position is part of it)."""
    material = f"{index}\x1f{item.conversation}\x1f{item.sender or ''}\x1f{item.text}"
    return hashlib.blake2b(material.encode(), digest_size=12).hexdigest()


_SORTED: Final = msgspec.json.Encoder(order="sorted")
_BLAKE2B_12: Final = hashlib.blake2b(digest_size=12)


def content_key(item: OutgoingMessage, occurrence: int) -> str:
    """The key of an item without one: the same whatever the input's order.

    blake2b of the conversation, the sender, the text and the metadata (keys
    sorted), 24 hex digits; the n-th item with the same content (n >= 2) gets
    "-n" appended, so identical messages stay distinct and interchangeable.
    """
    key = content_hex(item)
    return key if occurrence == 1 else f"{key}-{occurrence}"


def content_hex(item: OutgoingMessage) -> str:
    """The 24 hex digits (a 12-byte blake2b digest) behind `content_key`."""
    text = f"{item.conversation}\x1f{item.sender or ''}\x1f{item.text}\x1f"
    try:  # the common case without the error handler's argument parsing
        material = text.encode()
    except UnicodeEncodeError:  # a lone surrogate: kept, as it always was
        material = text.encode("utf-8", "surrogatepass")
    if item.metadata:
        material += _metadata_bytes(item.metadata)
    digest = _BLAKE2B_12.copy()  # cheaper than a new one with its parameters parsed
    digest.update(material)
    return digest.hexdigest()


def _metadata_bytes(metadata: Mapping[str, object]) -> bytes:
    try:
        return _SORTED.encode(metadata)
    except (TypeError, ValueError, OverflowError, RecursionError):
        return repr(metadata).encode("utf-8", "backslashreplace")


_FIRST_SLOTS: Final = 4096
"""The table's first size (32 KiB): 2,048 distinct items before it first grows."""


class Occurrences:
    """How many times each content hash (a signed 64-bit int, as `hash()` gives
    it) has been seen (1 for the first time), and the content keys counted by it.

    An open-addressing table in an `array` (16 bytes a distinct item at most,
    not a set's ~60): a million-item campaign stays within its memory target.
    Only repeated contents get a dict entry.
    """

    __slots__ = ("_free", "_mask", "_repeats", "_slots", "repeat")

    def __init__(self) -> None:
        self._slots = array("q", bytes(8 * _FIRST_SLOTS))
        self._mask = _FIRST_SLOTS - 1
        self._free = _FIRST_SLOTS // 2  # new values before the table grows
        self._repeats: dict[int, int] = {}
        self.repeat = False
        """Whether the item of the last `key_of` repeated an earlier one's content."""

    def key_of(self, item: OutgoingMessage) -> str:
        """`content_key` of `item`, its occurrence counted now (see `repeat`).

        The common case (a new content, its slot free) is `_add` inline: one
        call an item, not three, 3k instructions less (benchmarks/README.md).
        """
        key = content_hex(item)
        value = hash(key) | 1  # (the str's own hash: 64 bits, this run only)
        slots = self._slots
        i = value & self._mask
        if not slots[i]:
            slots[i] = value
            self._free -= 1
            if not self._free:
                self._grow()
            self.repeat = False
            return key
        seen = self._count(i, value)
        self.repeat = seen > 1
        return key if seen == 1 else f"{key}-{seen}"

    def seen(self, value: int) -> int:
        """Count `value` once more; how many times it has been seen, this one too."""
        value |= 1  # 0 marks an empty slot
        i = value & self._mask
        if not self._slots[i]:
            return self._add(i, value)
        return self._count(i, value)

    def _count(self, i: int, value: int) -> int:
        """`seen` of a value whose slot `i` is taken (by it, or by another)."""
        slots, mask = self._slots, self._mask
        while True:
            found = slots[i]
            if not found:
                return self._add(i, value)
            if found == value:
                count = self._repeats.get(value, 1) + 1
                self._repeats[value] = count
                return count
            i = (i + 1) & mask

    def _add(self, i: int, value: int) -> int:
        self._slots[i] = value
        self._free -= 1
        if not self._free:
            self._grow()
        return 1

    def _grow(self) -> None:
        old = self._slots
        self._slots = array("q", bytes(16 * len(old)))
        self._mask = len(self._slots) - 1
        self._free = len(old) // 2
        for value in old:
            if value:
                i = value & self._mask
                while self._slots[i]:
                    i = (i + 1) & self._mask
                self._slots[i] = value


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
    rate_limit: float | RateLimiter | None = None
    checkpoint: str | os.PathLike[str] | BatchStore | None = None
    on_progress: Callable[[Progress], object] | None = None
    reconcile: bool = False
    shard: tuple[int, int] | None = None
    max_attempts: int = 3
    settle: float = 3.0
    reconcile_lookback: float = 300.0
    broadcast: bool = True
    broadcast_chunk: int = 50
    echoes: EchoStore | RedisEchoStore | None = None

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
        if not _valid_rate(self.rate_limit):
            raise InvalidRequestError(
                "rate_limit must be a number of requests/second > 0"
            )
        if self.shard is not None and not _valid_shard(self.shard):
            raise InvalidRequestError("shard must be (k, n) with 0 <= k < n")
        if not _positive_int(self.max_attempts):
            raise InvalidRequestError("max_attempts must be an int >= 1")
        self._check_broadcast()
        for name in ("settle", "reconcile_lookback"):
            if not _seconds(getattr(self, name)):
                raise InvalidRequestError(f"{name} must be a number of seconds >= 0")

    def _check_broadcast(self) -> None:
        if not isinstance(self.broadcast, bool):
            raise InvalidRequestError("broadcast must be a bool")
        chunk = self.broadcast_chunk
        if not (_positive_int(chunk) and 2 <= chunk <= MAX_TARGETS):
            raise InvalidRequestError(
                f"broadcast_chunk must be an int from 2 to {MAX_TARGETS}"
            )
        if self.echoes is not None and not hasattr(self.echoes, "wait_for"):
            raise InvalidRequestError("echoes must be an EchoStore or RedisEchoStore")


def _valid_rate(rate: object) -> bool:
    """None, a number of starts a second > 0, or a shared `RateLimiter`."""
    if rate is None or (hasattr(rate, "wait") and hasattr(rate, "pause")):
        return True
    return isinstance(rate, int | float) and not isinstance(rate, bool) and rate > 0


def _seconds(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and value >= 0
        and math.isfinite(value)
    )
