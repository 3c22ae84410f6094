"""The consumer's side of a batch: the async iterator `iter_send` returns."""

from __future__ import annotations

import asyncio
import time
from contextlib import suppress
from typing import TYPE_CHECKING, Final

from .._errors import CheckpointError, CoordinationError
from .._logging import log
from ..models.batch import ItemResult
from .batch import DONE

if TYPE_CHECKING:
    from ..models.batch import Progress
    from .batch import Batch

__all__ = ["BatchIterator"]

PROGRESS_EVERY: Final = 0.1
"""Seconds between two `on_progress` calls (and one more at the end)."""


class BatchIterator:
    """The async iterator `iter_send` returns; also an async context manager.

    Leaving an `async with` (or calling `aclose()`, or breaking out of the loop)
    cancels the remaining work; items already running are recorded as possibly
    sent in the checkpoint.
    """

    def __init__(self, batch: Batch) -> None:
        self._batch = batch
        self._task: asyncio.Task[None] | None = None
        self._finished = False
        self._started = 0.0
        self._last_progress = 0.0

    def __aiter__(self) -> BatchIterator:
        return self

    async def __anext__(self) -> ItemResult:
        batch = self._batch
        if self._finished:
            raise StopAsyncIteration
        if self._started == 0.0:
            await self._start()
        try:
            got = await self._next_result()
        except BaseException:
            self._stop_workers()  # our consumer is gone: stop the workers too
            raise
        if got is DONE:
            await self._finish()
            if batch.error is not None:
                raise batch.error
            raise StopAsyncIteration
        assert type(got) is ItemResult
        if batch.settings.on_progress is not None:
            self._report_progress()
        return got

    async def _next_result(self) -> object:
        """A queued result, else one sent here (in the consumer's task), else a
        worker's (or DONE)."""
        batch = self._batch
        results = batch.results
        if self._task is not None and results.qsize():  # (no workers, no queue)
            return results.get_nowait()
        if not batch.exhausted or batch.has_more():  # the first test: no call
            try:  # (not a coroutine of its own: one frame less an item)
                result = await batch.take()
            except Exception as exc:
                await self._input_broke(exc)
                result = None
            if result is not None:
                return result
        return await self._wait()

    async def _start(self) -> None:
        self._started = time.monotonic()
        await self._batch.open()
        if self._batch.workers > 1:
            loop = asyncio.get_running_loop()
            self._task = loop.create_task(self._batch.supervise())

    async def _input_broke(self, exc: Exception) -> None:
        """A failure taking an item that is not an item's (the input itself broke)
        stops the workers, as a worker's would, and surfaces after the results
        already made."""
        self._batch.fail(exc)
        task = self._task
        if task is not None and not task.done():
            task.cancel()  # a task cancelled before it ran never runs `finally`,
            with suppress(asyncio.CancelledError):  # so wait, then mark it done
                await task
        self._batch.finished = True

    async def _wait(self) -> object:
        """The next result of a background worker, or DONE once they all stopped."""
        batch = self._batch
        if batch.finished and batch.results.empty():
            return DONE
        return await batch.results.get()

    async def _finish(self) -> None:
        self._finished = True
        batch = self._batch
        try:
            await batch.aclose()
        except (CheckpointError, CoordinationError) as exc:  # results out, marks not
            batch.stop(exc)
        self._report_progress(force=True)

    def _stop_workers(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._close_quietly()

    def _close_quietly(self) -> None:
        try:
            self._batch.close_now()
        except CheckpointError as exc:  # already leaving with another outcome
            log.warning("batch checkpoint not fully written: %s", exc)

    def progress(self) -> Progress:
        """Counts so far."""
        return self._batch.progress(self._started)

    def _report_progress(self, *, force: bool = False) -> None:
        callback = self._batch.settings.on_progress
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
        try:
            await self._batch.aclose()
        except (CheckpointError, CoordinationError) as exc:
            log.warning("batch checkpoint not fully written: %s", exc)

    async def __aenter__(self) -> BatchIterator:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __del__(self) -> None:
        task = self._task
        if task is not None and not task.done():
            task.cancel()
