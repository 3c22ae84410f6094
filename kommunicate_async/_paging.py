"""Newest-first paging by a `createdAt` cursor, with no gaps and no repeats.

Kommunicate lists page with `endTime` = the oldest `createdAtTime` already seen
(docs/wire.md#messages, docs/wire.md#conversations). Whether the server compares with
`<` or `<=` is UNCERTAIN, and
several items can share one millisecond. So each next request asks for
`endTime = boundary + 1` (the boundary's items come back whichever comparison the
server uses) and the items already yielded there are dropped.

A server that ignores the cursor sends the same page again: its items are newer
than the cursor (or already yielded), so the page brings nothing new. Three equal
pages in a row with nothing new (a real server gives two at most: the boundary's
items again after the cursor moved, then the next offset differs), or
`MAX_IDLE_PAGES` pages in a row with nothing new, mean no progress: the caller
stops instead of paging forever.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable, Sequence

__all__ = ["MAX_IDLE_PAGES", "NewestFirstCursor"]

T = TypeVar("T")

MAX_IDLE_PAGES: Final = 64
"""Pages in a row with nothing new before paging stops, whatever they hold. A
few are normal (the boundary's items fill small pages and an offset steps past
them); dozens are a server that ignores the cursor and shuffles its answer."""


class NewestFirstCursor(Generic[T]):
    """Tracks the cursor and the items already yielded near it."""

    __slots__ = (
        "_created_at",
        "_key",
        "_last_keys",
        "_recent",
        "end_time",
        "idle",
        "moved",
        "repeated",
    )

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
        self.idle = 0
        """Pages in a row that brought nothing new."""
        self.repeated = 0
        """Pages in a row with nothing new, each equal to the one before."""
        self._last_keys: list[Hashable] = []

    @property
    def stalled(self) -> bool:
        """True when paging makes no progress (see the module docstring)."""
        return self.repeated >= 2 or self.idle >= MAX_IDLE_PAGES

    def take(self, page: Sequence[T]) -> list[T]:
        """The items of `page` not yielded before; moves the cursor past them."""
        fresh = [item for item in page if self._is_new(item)]
        self._note_progress(page, fresh)
        times = [t for item in fresh if (t := self._created_at(item)) is not None]
        self.moved = False
        if not times:
            return fresh
        self._advance(fresh, min(times))
        return fresh

    def _is_new(self, item: T) -> bool:
        end = self.end_time
        return self._key(item) not in self._recent and (
            end is None or (self._created_at(item) or 0) <= end
        )

    def _note_progress(self, page: Sequence[T], fresh: list[T]) -> None:
        """Count pages that brought nothing new (see `stalled`)."""
        self.idle = 0 if fresh else self.idle + 1
        keys = [self._key(item) for item in page]
        same = not fresh and bool(keys) and keys == self._last_keys
        self.repeated = self.repeated + 1 if same else 0
        self._last_keys = keys

    def _advance(self, fresh: list[T], boundary: int) -> None:
        """Remember what was yielded at the boundary; move `end_time` to it."""
        for item in fresh:
            self._recent[self._key(item)] = self._created_at(item) or boundary
        # Only items at the boundary (or 1 ms above it) can be returned again.
        self._recent = {k: t for k, t in self._recent.items() if t <= boundary + 1}
        if self.end_time != boundary + 1:
            self.end_time = boundary + 1
            self.moved = True
