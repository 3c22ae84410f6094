"""The consumer's side of a batch: the async iterator `iter_send` returns."""

from __future__ import annotations

import asyncio
import time
from contextlib import suppress
from typing import TYPE_CHECKING, Final

from ._batch import DONE
from .models.batch import ItemResult, ItemStatus, Progress

if TYPE_CHECKING:
    from ._batch import BatchRun

__all__ = ["BatchIterator"]

PROGRESS_EVERY: Final = 0.1
"""Seconds between two `on_progress` calls (and one more at the end)."""


class BatchIterator:
    """The async iterator `iter_send` returns; also an async context manager.

    Leaving an `async with` (or calling `aclose()`, or breaking out of the loop)
    cancels the remaining work; items already running are recorded as possibly
    sent in the checkpoint.
    """

    def __init__(self, run: BatchRun) -> None:
        self._run = run
        self._task: asyncio.Task[None] | None = None
        self._finished = False
        self._started = 0.0
        self._last_progress = 0.0
        self._counts = dict.fromkeys(ItemStatus, 0)
        self._attempts = 0

    def __aiter__(self) -> BatchIterator:
        return self

    async def __anext__(self) -> ItemResult:
        if self._finished:
            raise StopAsyncIteration
        if self._task is None:
            self._started = time.monotonic()
            self._task = asyncio.get_running_loop().create_task(self._run.supervise())
        results = self._run.results
        try:
            got = results.get_nowait() if len(results) else await results.get()
        except BaseException:
            self._task.cancel()  # our consumer is gone: stop the workers too
            raise
        if got is DONE:
            self._finished = True
            self._report_progress(force=True)
            if self._run.error is not None:
                raise self._run.error
            raise StopAsyncIteration
        assert type(got) is ItemResult
        self._counts[got.status] += 1
        self._attempts += got.attempts
        self._report_progress()
        return got

    def progress(self) -> Progress:
        """Counts so far."""
        counts = self._counts
        return Progress(
            done=sum(counts.values()),
            delivered=counts[ItemStatus.DELIVERED],
            failed=counts[ItemStatus.FAILED],
            ambiguous=counts[ItemStatus.AMBIGUOUS],
            skipped=self._run.skipped,
            attempts=self._attempts,
            elapsed=time.monotonic() - self._started if self._started else 0.0,
        )

    def _report_progress(self, *, force: bool = False) -> None:
        callback = self._run.options.on_progress
        if callback is None:
            return
        now = time.monotonic()
        if force or now - self._last_progress >= PROGRESS_EVERY:
            self._last_progress = now
            callback(self.progress())

    async def aclose(self) -> None:
        """Stop the batch (idempotent); waits until the workers have stopped."""
        self._finished = True
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    async def __aenter__(self) -> BatchIterator:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __del__(self) -> None:
        task = self._task
        if task is not None and not task.done():
            task.cancel()
