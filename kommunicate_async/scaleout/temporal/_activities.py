"""The activities: `send_chunk` runs `iter_send` over one chunk; `apply_control`
sets the campaign's switch in Redis.

Exactly once, chunk by chunk: each item's dedupe key is derived from its
content (`chunk_key`); the chunk's checkpoint is a `RedisBatchStore` of its own
(campaign + chunk), so a retried attempt skips what was delivered and
reconciles what was in flight; and the heartbeat says up to where every item
has its outcome (`ChunkBeat.next_index`, with those outcomes), so a retry
counts each item once: the items before it from the beat, the rest as it
goes (an item found delivered in the store counts as delivered, `skipped`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Final, TypeVar

import anyio
import msgspec
from temporalio import activity
from temporalio.exceptions import ApplicationError

from ..._errors import BatchStoppedError, CoordinationError, InvalidRequestError
from ..._logging import log
from ...models.batch import ItemResult, ItemStatus, OutgoingMessage
from ..redis import RedisBatchStore
from ._control import ControlledRateLimit, write_control
from ._source import chunk_key, read_jsonl_chunk
from ._types import (
    MAX_CHUNK_PROBLEMS,
    CampaignProblem,
    ChunkBeat,
    ChunkRange,
    ChunkReport,
    ChunkTask,
    Control,
)

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from redis.asyncio import Redis

    from ..._session import KommunicateSession
    from .. import Begin, CheckpointLine

__all__ = ["ChunkReader", "ChunkSpan", "CampaignActivities"]

ChunkReader = Callable[[str, ChunkRange], Iterable[OutgoingMessage]]
"""Reads one chunk's items, in order: `(source, chunk) -> items`."""
ChunkSpan = Callable[[ChunkTask, int], "AbstractContextManager[object]"]
"""The OpenTelemetry hook: a context manager around each attempt at a chunk
(`(task, attempt)`), e.g. a span of your tracer."""

SEND_CHUNK: Final = "kommunicate.campaign.send_chunk"
APPLY_CONTROL: Final = "kommunicate.campaign.apply_control"
PROGRESS_SIGNAL: Final = "chunk_progress"
_T = TypeVar("_T")


class _Tracker:
    """One attempt's outcomes, and the watermark the heartbeat carries."""

    def __init__(self, task: ChunkTask, beat: ChunkBeat, attempt: int) -> None:
        self.task = task
        self.attempt = attempt
        self.beat = beat  # the outcomes of every item before beat.next_index
        self.base = beat.next_index
        self.above: dict[int, tuple[str, int, CampaignProblem | None]] = {}
        self.read = 0  # items handed to the batch
        self.taken: dict[int, str] = {}
        self.problems_dropped = 0

    def result(self, result: ItemResult) -> None:
        index = self.base + result.index
        problem = None
        if result.status is not ItemStatus.DELIVERED:
            error = result.error
            problem = CampaignProblem(
                self.task.chunk.index,
                index,
                result.item.dedupe_key or "",
                result.status.value,
                "" if error is None else f"{type(error).__name__}: {error}",
            )
        self._settle(index, (result.status.value, result.attempts, problem))

    def skipped(self, index: int) -> None:
        self._settle(self.base + index, ("skipped", 0, None))

    def unsettled(self, index: int, key: str) -> None:
        """An item an earlier attempt may have sent, left unchecked by a cancel."""
        problem = CampaignProblem(
            self.task.chunk.index,
            self.base + index,
            key,
            ItemStatus.AMBIGUOUS.value,
            "possibly sent by an earlier attempt; the campaign was cancelled "
            "before it was reconciled",
        )
        self._settle(self.base + index, (ItemStatus.AMBIGUOUS.value, 0, problem))

    def counted(self, items: Iterator[OutgoingMessage]) -> Iterator[OutgoingMessage]:
        """`items`, counting those handed to the batch (`read`), and keeping
        the keys of those without an outcome yet (`taken`)."""
        for item in items:
            self.taken[self.base + self.read] = item.dedupe_key or ""
            self.read += 1
            yield item

    def settle_taken(self, states: dict[str, str]) -> None:
        """After a cancel: the items the batch took and whose results it never
        handed over, by their final state in the store (a send that ended is
        recorded there); one still marked "sending" was never sent."""
        for index, key in list(self.taken.items()):
            state = states.get(key)
            if state == ItemStatus.DELIVERED.value:
                self._settle(index, (state, 1, None))
            elif state in (ItemStatus.FAILED.value, ItemStatus.AMBIGUOUS.value):
                problem = CampaignProblem(
                    self.task.chunk.index,
                    index,
                    key,
                    state,
                    f"{state} while the campaign was being cancelled",
                )
                self._settle(index, (state, 1, problem))

    def _settle(
        self, index: int, outcome: tuple[str, int, CampaignProblem | None]
    ) -> None:
        self.taken.pop(index, None)
        self.above[index] = outcome
        beat = self.beat
        while beat.next_index in self.above:
            status, attempts, problem = self.above.pop(beat.next_index)
            _count(beat, status, attempts, problem)
            beat.next_index += 1

    def report(self, *, finished: bool = False, cancelled: bool = False) -> ChunkReport:
        """Everything so far: the beat's outcomes and those above it."""
        total = dataclasses.replace(self.beat, problems=list(self.beat.problems))
        for status, attempts, problem in self.above.values():
            _count(total, status, attempts, problem)
        count = self.task.chunk.count
        done = total.delivered + total.failed + total.ambiguous
        return ChunkReport(
            chunk=self.task.chunk.index,
            count=count,
            attempt=self.attempt,
            delivered=total.delivered,
            failed=total.failed,
            ambiguous=total.ambiguous,
            skipped=total.skipped,
            attempts=total.attempts,
            not_sent=max(count - done, 0) if finished else 0,
            finished=finished,
            cancelled=cancelled,
            problems=total.problems,
        )


def _count(
    into: ChunkBeat, status: str, attempts: int, problem: CampaignProblem | None
) -> None:
    into.attempts += attempts
    if status == "skipped":
        into.delivered += 1
        into.skipped += 1
    elif status == ItemStatus.DELIVERED.value:
        into.delivered += 1
    elif status == ItemStatus.FAILED.value:
        into.failed += 1
    else:
        into.ambiguous += 1
    if problem is not None and len(into.problems) < MAX_CHUNK_PROBLEMS:
        into.problems.append(problem)


class _ChunkStore:
    """The chunk's `RedisBatchStore`, telling the tracker which items it found
    delivered (`iter_send` skips those without a result)."""

    def __init__(
        self, inner: RedisBatchStore, tracker: _Tracker, pacer: ControlledRateLimit
    ) -> None:
        self.inner = inner
        self._tracker = tracker
        self._pacer = pacer
        self._begins: set[int] = set()
        self._ticket = 0

    async def open(self) -> None:
        await self.inner.open()

    async def begin(self, key: str, index: int) -> Begin:
        self._ticket += 1
        ticket = self._ticket
        self._begins.add(ticket)
        try:
            found = await _shielded(self.inner.begin(key, index))
        finally:
            self._begins.discard(ticket)
        if found == "delivered":
            self._tracker.skipped(index)
        return found

    async def sync(self) -> None:
        """Write every final state recorded so far, those that a `begin` under
        way carries included: then a heartbeat never claims more than Redis
        holds."""
        under_way = set(self._begins)
        await _shielded(self.inner.flush())
        while under_way & self._begins:  # noqa: ASYNC110 - a few ms, rarely
            await anyio.sleep(0.002)

    async def finish(self, line: CheckpointLine) -> None:
        self._pacer.sent()  # called by the task that sent the item, once it ended
        await _shielded(self.inner.finish(line))

    async def clock(self, offset: int) -> None:
        await self.inner.clock(offset)

    async def close(self) -> None:
        await _shielded(self.inner.close())


async def _shielded(step: Awaitable[_T]) -> _T:
    """Run a store step to its end even if the batch is cancelled meanwhile: a
    step swaps the final states it writes out of the store's buffer first, so
    a cut one would lose them (and leave delivered items marked in flight)."""
    return await asyncio.shield(asyncio.ensure_future(step))


def keyed_items(
    items: Iterable[OutgoingMessage], chunk: int, start: int
) -> Iterator[OutgoingMessage]:
    """The chunk's items from `start` on, each with its dedupe key (the ones
    before `start` are read only to number repeated contents the same way)."""
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        if item.dedupe_key:
            keyed = item
        else:
            content = chunk_key(item, chunk, 1)
            seen[content] = seen.get(content, 0) + 1
            keyed = msgspec.structs.replace(
                item, dedupe_key=chunk_key(item, chunk, seen[content])
            )
        if index >= start:
            yield keyed


class CampaignActivities:
    """The campaign's activities, bound to one worker's session and Redis.

    Args:
        km: the worker's `KommunicateSession` (one pool for every chunk).
        redis: a `redis.asyncio.Redis` every worker of the campaign shares.
        read_chunk: reads one chunk (default: a JSONL file by byte offsets).
        beat_every: seconds between heartbeats (and progress signals).
        chunk_span: the OpenTelemetry hook (`ChunkSpan`); None: no span.
    """

    def __init__(
        self,
        km: KommunicateSession,
        redis: Redis,
        *,
        read_chunk: ChunkReader = read_jsonl_chunk,
        beat_every: float = 1.0,
        chunk_span: ChunkSpan | None = None,
    ) -> None:
        self._km = km
        self._redis = redis
        self._read_chunk = read_chunk
        self._beat_every = beat_every
        self._span = chunk_span

    @activity.defn(name=APPLY_CONTROL)
    async def apply_control(self, control: Control) -> None:
        """Set the campaign's switch: every worker follows within ~20 ms."""
        await write_control(self._redis, control)

    @activity.defn(name=SEND_CHUNK)
    async def send_chunk(self, task: ChunkTask) -> ChunkReport:
        """Send one chunk; resume from the last heartbeat on a retry."""
        info = activity.info()
        details = info.heartbeat_details
        beat = ChunkBeat.from_details(details[0] if details else None, 0)
        tracker = _Tracker(task, beat, info.attempt)
        span = (
            self._span(task, info.attempt)
            if self._span is not None
            else contextlib.nullcontext()
        )
        with span:
            return await self._send(task, tracker)

    async def _send(self, task: ChunkTask, tracker: _Tracker) -> ChunkReport:
        pacer = ControlledRateLimit(self._redis, task.campaign, rate=task.rate)
        store = _ChunkStore(
            RedisBatchStore(self._redis, f"{task.campaign}:{task.chunk.index}"),
            tracker,
            pacer,
        )
        items = keyed_items(
            self._read_chunk(task.source, task.chunk),
            task.chunk.index,
            tracker.beat.next_index,
        )
        failure: BaseException | None = None
        scope = anyio.CancelScope()
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._beat, task, tracker, store, pacer, scope)
            try:
                with scope:
                    async with self._km.messages.iter_send(
                        tracker.counted(items),
                        concurrency=task.concurrency,
                        rate_limit=pacer,
                        checkpoint=store,
                        reconcile=task.reconcile,
                        settle=task.settle,
                        max_attempts=task.max_attempts,
                    ) as results:
                        async for result in results:
                            tracker.result(result)
            except (BatchStoppedError, InvalidRequestError, OSError) as exc:
                # (the input broke, or a fatal error: raised below, not grouped)
                failure = exc
            finally:
                tg.cancel_scope.cancel()
        if isinstance(failure, BatchStoppedError):
            if isinstance(failure.reason, CoordinationError):
                raise failure  # Redis is away: Temporal retries the chunk later
            report = tracker.report(finished=True)
            report.error = f"{type(failure.reason).__name__}: {failure.reason}"
            return report
        if isinstance(failure, InvalidRequestError):  # a source no worker can read
            raise ApplicationError(str(failure), non_retryable=True) from None
        if failure is not None:  # the source: a retry (another worker) may read it
            raise ApplicationError(f"cannot read {task.source}: {failure}") from None
        cancelled = scope.cancelled_caught or pacer.control.cancelled
        if cancelled:
            await self._settle_rest(store.inner, tracker, items)
        return tracker.report(finished=True, cancelled=cancelled)

    @staticmethod
    async def _settle_rest(
        store: RedisBatchStore, tracker: _Tracker, items: Iterator[OutgoingMessage]
    ) -> None:
        """After a cancel, the items the batch never took: those an earlier
        attempt delivered count as delivered, those it had in flight as
        ambiguous; the rest were never sent."""
        await store.flush()
        states = await store.outcomes()
        tracker.settle_taken(states)
        for offset, item in enumerate(items):
            key = item.dedupe_key or ""
            state = states.get(key)
            if state == "delivered":
                tracker.skipped(tracker.read + offset)
            elif state in ("sending", "ambiguous"):
                tracker.unsettled(tracker.read + offset, key)

    async def _beat(
        self,
        task: ChunkTask,
        tracker: _Tracker,
        store: _ChunkStore,
        pacer: ControlledRateLimit,
        sending: anyio.CancelScope,
    ) -> None:
        """Heartbeat and report every `beat_every` s, paused or not (a paused
        chunk is alive); once cancelled, stop the batch when every send let
        through has its outcome."""
        try:
            handle: Any = activity.client().get_workflow_handle(task.campaign)
        except RuntimeError:  # no client (a test's ActivityEnvironment): no signals
            handle = None
        cancelled_at: float | None = None
        next_beat = 0.0
        while True:
            control = await pacer.refresh(0.1)
            now = time.monotonic()
            if control.cancelled:
                cancelled_at = cancelled_at or now
                drained = not pacer.sending  # every send let through has ended
                if drained or now - cancelled_at > _drain_limit(self._km, task):
                    sending.cancel()
            if now >= next_beat:
                next_beat = now + self._beat_every
                beat = dataclasses.replace(
                    tracker.beat, problems=list(tracker.beat.problems)
                )
                await store.sync()  # Redis holds what the beat claims
                activity.heartbeat(beat)
                if handle is not None:
                    await _signal(handle, tracker.report())
            await anyio.sleep(0.05)


async def _signal(handle: Any, report: ChunkReport) -> None:
    try:
        await handle.signal(PROGRESS_SIGNAL, report)
    except Exception as exc:  # progress is best effort: the chunk's result counts
        log.debug("campaign progress not signalled: %r", exc)


def _drain_limit(km: KommunicateSession, task: ChunkTask) -> float:
    """How long a send let through before a cancel can take to end: its attempt
    timeout, then reconcile's settle and a read."""
    attempt = km.config.timeouts.attempt
    return 2 * attempt + task.settle + 1.0
