"""Newest-first paging by a `createdAt` cursor, with no gaps and no repeats.

Kommunicate lists page with `endTime` = the oldest `createdAtTime` already seen
(docs/wire.md#messages, docs/wire.md#conversations). Whether the server compares with
`<` or `<=` is UNCERTAIN, and
several items can share one millisecond. So each next request asks for
`endTime = boundary + 1` (the boundary's items come back whichever comparison the
server uses) and the items already yielded there are dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable, Sequence

__all__ = ["NewestFirstCursor"]

T = TypeVar("T")


class NewestFirstCursor(Generic[T]):
    """Tracks the cursor and the items already yielded near it."""

    __slots__ = ("_created_at", "_key", "_recent", "end_time", "moved")

    def __init__(
        self, key: Callable[[T], Hashable], created_at: Callable[[T], int | None]
    ) -> None:
        self._key = key
        self._created_at = created_at
        self._recent: dict[Hashable, int] = {}
        self.end_time: int | None = None
        """The `endTime` for the next request (None for the first page)."""
        self.moved = False
        """Whether the last `take` moved the cursor to older items."""

    def take(self, page: Sequence[T]) -> list[T]:
        """The items of `page` not yielded before; moves the cursor past them."""
        fresh = [item for item in page if self._key(item) not in self._recent]
        times = [t for item in fresh if (t := self._created_at(item)) is not None]
        self.moved = False
        if not times:
            return fresh
        boundary = min(times)
        for item in fresh:
            self._recent[self._key(item)] = self._created_at(item) or boundary
        # Only items at the boundary (or 1 ms above it) can be returned again.
        self._recent = {k: t for k, t in self._recent.items() if t <= boundary + 1}
        if self.end_time != boundary + 1:
            self.end_time = boundary + 1
            self.moved = True
        return fresh
