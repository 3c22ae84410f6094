"""Where answered message keys are remembered, so no message is answered twice.

`ReplyStore` is a small protocol: an in-memory TTL LRU is the default, and a shared
store (Redis, a database) lets several bot workers behind one URL agree on who
answers a key. `claim` must be atomic across everything sharing the store.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final, Protocol

__all__ = ["DEFAULT_TTL", "MemoryReplyStore", "ReplyRecord", "ReplyStore"]

DEFAULT_TTL: Final = 3600.0
"""Seconds a key is remembered: Kommunicate redelivers within its reply timeout."""


@dataclass(frozen=True, slots=True)
class ReplyRecord:
    """How a key was answered.

    Attributes:
        body: the reply array's bytes.
        posted: True when the answer went into the conversation as a deferred
            message: a redelivery then gets `[]`, not a second copy.
    """

    body: bytes
    posted: bool = False


class ReplyStore(Protocol):
    """Answered keys and in-flight claims, shared by the workers of one bot."""

    async def get(self, key: str) -> ReplyRecord | None:
        """The recorded answer of `key`, if any."""
        ...

    async def put(self, key: str, record: ReplyRecord) -> None:
        """Record the answer of `key` (replaces its claim)."""
        ...

    async def claim(self, key: str) -> bool:
        """True if this worker may answer `key`: nobody has claimed or answered it."""
        ...

    async def release(self, key: str) -> None:
        """Drop an unanswered claim (the handler could not run), so a retry can."""
        ...


class MemoryReplyStore:
    """A bounded in-memory `ReplyStore`: the oldest keys go first past `max_keys`."""

    __slots__ = ("_entries", "max_keys", "ttl")

    def __init__(self, *, max_keys: int = 10_000, ttl: float = DEFAULT_TTL) -> None:
        self.max_keys = max_keys
        self.ttl = ttl
        self._entries: OrderedDict[str, tuple[float, ReplyRecord | None]] = (
            OrderedDict()
        )

    def __len__(self) -> int:
        return len(self._entries)

    def _live(self, key: str) -> tuple[float, ReplyRecord | None] | None:
        found = self._entries.get(key)
        if found is not None and found[0] < time.monotonic():
            del self._entries[key]
            return None
        return found

    def _set(self, key: str, record: ReplyRecord | None) -> None:
        self._entries[key] = (time.monotonic() + self.ttl, record)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_keys:
            self._entries.popitem(last=False)

    async def get(self, key: str) -> ReplyRecord | None:
        found = self._live(key)
        return None if found is None else found[1]

    async def put(self, key: str, record: ReplyRecord) -> None:
        self._set(key, record)

    async def claim(self, key: str) -> bool:
        if self._live(key) is not None:
            return False
        self._set(key, None)
        return True

    async def release(self, key: str) -> None:
        found = self._live(key)
        if found is not None and found[1] is None:
            del self._entries[key]
