"""High-volume sending: one `Batch` owns the input, the workers and the results.

A fixed pool of `concurrency` workers runs in one anyio task group (per-item
`start_soon`, a `CapacityLimiter` or memory streams cost 8-36 us an item here, more
than the library's whole per-send budget). Each worker pulls one item at a time (no
read-ahead: a generator of millions is never held in memory), sends it, and puts its
`ItemResult` on an `asyncio.Queue` the consumer reads. The task group lives in a
supervisor task, never across a `yield` of the consumer's iterator, and the consumer
is the last worker: while it waits for a result it sends the next item itself, so
the common case hands results over with no task switch at all (with the cheap
per-run dedupe key, 25k instructions a message at concurrency 1, benchmarks/README.md).

Never more workers than the session's pool has connections (`max_connections`): a
send waiting for a connection would hold a worker for nothing (aiohttp's pool is
not first-come-first-served), so `concurrency` above it means the pool's size.

One item is one job: build the body (bad input is that item's failure), mark it in
the ledger (`ledger.begin`: the JSONL `Checkpoint` or a `scaleout.BatchStore`, one
face), then one send loop (`_deliver`): its attempts, the client's retry decision,
and, with `reconcile`, a look in the conversation before sending again
(`reconcile.py`). An item an earlier run may have sent is resumed in one place
(`_resume_in_flight`). Whatever goes wrong with one item is that item's result;
only a fatal error (credentials, permissions, configuration, an unknown host, a
ledger that cannot be written) stops the batch, after every item already sent got
its result, with a `BatchStoppedError`.

The batch never imports `Messages`: what it needs of the session comes in a
`MessageWire` (`_message_wire.py`), so imports point one way.
"""

from __future__ import annotations

import asyncio
import math
import os
import secrets
import time
from collections import deque
from collections.abc import AsyncIterable, Coroutine, Iterable, Iterator
from time import monotonic as _monotonic, time as _time
from types import CoroutineType
from typing import TYPE_CHECKING, Any, Final, cast

import anyio
import msgspec

from .._errors import (
    APIError,
    BatchStoppedError,
    InvalidRequestError,
    KommunicateError,
    RateLimitError,
)
from .._message_wire import SEND, no_key, send_body
from .._pipeline.retry import is_retryable
from .._telemetry import active as telemetry, note_reconcile
from ..models.batch import ItemResult, ItemStatus, OutgoingMessage, Progress
from ..models.message import Message, SentMessage
from .broadcast import Broadcaster
from .checkpoint import Checkpoint, Uncertain, key_hash
from .job import Job, first_leaf, is_fatal, line_of, refused, wall_ms
from .options import (
    BatchOptions,
    BatchSettings,
    Occurrences,
    derive_dedupe_key,
)
from .reconcile import Reconciler
from .sendall import broadcast_group

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from .._message_wire import MessageWire
    from ..scaleout import BatchStore, RateLimiter

__all__ = ["DONE", "Batch", "BatchOptions", "BatchSettings", "derive_dedupe_key"]

DONE: Final = object()
"""The end-of-results marker the supervisor puts last."""
_END: Final = object()
"""The end of the input (None is an item: a bad one)."""
_DELIVERED: Final = ItemStatus.DELIVERED
_replace: Final = msgspec.structs.replace


def _ledger(target: str | os.PathLike[str] | BatchStore | None) -> BatchStore | None:
    """The one ledger of a batch: the JSONL file of a path, or a shared store."""
    if target is None or not isinstance(target, str | os.PathLike):
        return target
    return Checkpoint(target)


def _pacer(limit: float | RateLimiter | None) -> RateLimiter | None:
    if isinstance(limit, int | float):
        from .pacing import Pacer

        return Pacer(limit)
    return limit  # shared by the campaign's workers, or None


class Batch:
    """One batch: its input, its settings, its ledger, its workers' results and
    its counts."""

    def __init__(
        self,
        wire: MessageWire,
        items: Iterable[OutgoingMessage] | AsyncIterable[OutgoingMessage],
        settings: BatchSettings,
    ) -> None:
        self.wire = wire
        self.client = wire.client
        self.settings = settings
        self.pacer = _pacer(settings.rate_limit)
        self.workers = min(settings.concurrency, self.client.config.max_connections)
        """Sends in flight at most: `concurrency`, capped by the pool's size."""
        self.results: asyncio.Queue[object] = asyncio.Queue(self.workers * 2)
        # How a batch ends: the input is used up or a stop took no more items
        # (`exhausted`), the background workers stopped (`finished`), and the
        # error it ends with, if any (`error`; a `BatchStoppedError` for a stop).
        self.exhausted = False
        self.finished = self.workers == 1  # no background workers at all
        self.error: BaseException | None = None
        self.counts = dict.fromkeys(ItemStatus, 0)
        """Results by status, but `delivered` (counted apart, in `delivered`)."""
        self.delivered = 0
        self.skipped = 0
        self.attempts = 0
        self.ledger = _ledger(settings.checkpoint)
        """Where items are marked in flight and finished: file or shared store."""
        self.reconciler = Reconciler(wire, settings)
        # The server's clock matters to reconcile and to a rerun's (in the ledger).
        self._learn = settings.reconcile or self.ledger is not None
        self._clock_kept: int | None = None
        self._occurrences = Occurrences()
        self._content_keys = True
        self._index = 0
        # Only a ledger or a shard needs a key that a rerun derives again; for
        # one run's reconcile, unique is enough (a counter, not a blake2b hash).
        self._stable_keys = self.ledger is not None or settings.shard is not None
        self._run_id = f"r{secrets.token_hex(6)}-"
        self._ready: deque[ItemResult] = deque()
        """Results made with others (a broadcast request's), not yet handed out."""
        self.broadcaster = (
            Broadcaster(self, settings.broadcast_chunk) if settings.broadcast else None
        )
        self._sync: Iterator[OutgoingMessage] | None = None
        self._async: AsyncIterator[OutgoingMessage] | None = None
        self._pull_lock = asyncio.Lock()
        if isinstance(items, AsyncIterable):
            self._async = aiter(items)
        elif isinstance(items, Iterable):
            self._sync = iter(items)
        else:
            raise InvalidRequestError("items must be an iterable or async iterable")

    @property
    def stopped(self) -> BatchStoppedError | None:
        """The stop a fatal error made, if one did."""
        error = self.error
        return error if isinstance(error, BatchStoppedError) else None

    def progress(self, started: float) -> Progress:
        """The counts so far."""
        counts = self.counts
        return Progress(
            done=sum(counts.values()) + self.delivered,
            delivered=self.delivered,
            failed=counts[ItemStatus.FAILED],
            ambiguous=counts[ItemStatus.AMBIGUOUS],
            skipped=self.skipped,
            attempts=self.attempts,
            elapsed=time.monotonic() - started if started else 0.0,
        )

    # -- the ledger --------------------------------------------------------------------

    async def open(self) -> None:
        """Open the ledger (before the first item): lock and read a checkpoint
        file, or reach a shared store.

        Raises:
            CheckpointError: the file is held by another run, or unusable.
            CoordinationError: a shared store cannot be reached.
        """
        ledger = self.ledger
        if ledger is not None:
            await ledger.open()
            # A file an earlier version wrote derives keys from positions.
            self._content_keys = getattr(ledger, "content_keys", True)

    async def aclose(self) -> None:
        """Write the ledger's last lines and release it (idempotent).

        Raises:
            CheckpointError | CoordinationError: the last lines could not be
                written.
        """
        if self.ledger is not None:
            await self.ledger.close()

    def close_now(self) -> None:
        """`aclose` for a consumer already leaving (no await left): a file's
        last lines are written; a shared store's wait for a later run (its items
        stay in flight there: reconciled, never assumed either way).

        Raises:
            CheckpointError: the last lines could not be written.
        """
        if isinstance(self.ledger, Checkpoint):
            self.ledger.close_now()

    async def _keep_clock(self, ledger: BatchStore) -> None:
        offset = self._clock_kept = self.reconciler.offset_ms
        if offset is not None:
            await ledger.clock(offset)

    # -- the workers -------------------------------------------------------------------

    def stop(self, reason: KommunicateError) -> None:
        """A fatal error: take no more items; those taken and not yet sent are
        reported not attempted; the batch ends with a `BatchStoppedError`."""
        if self.error is None:
            stopped = BatchStoppedError(reason, next_index=self._index)
            stopped.__cause__ = reason
            self.fail(stopped)

    async def supervise(self) -> None:
        """Run `workers - 1` workers (the consumer is the last one, see
        `BatchIterator`); leave `DONE` when they stop and nothing is queued."""
        try:
            async with anyio.create_task_group() as tg:
                for _ in range(self.workers - 1):
                    tg.start_soon(self._worker)
        except Exception as exc:  # a bug in a worker: handed to the consumer, not lost
            self.fail(exc)
        finally:
            self.finished = True
            if self.results.empty():  # wake a consumer waiting on an empty queue;
                self.results.put_nowait(DONE)  # otherwise it sees `finished` later

    def fail(self, error: BaseException) -> None:
        """Stop taking items; `error` (its first leaf, for a group) ends the batch."""
        self.exhausted = True
        if self.error is None:
            self.error = first_leaf(error)

    def has_more(self) -> bool:
        """Items left to take: input, results made with others, open buckets."""
        if not self.exhausted or self._ready:
            return True
        return self.broadcaster is not None and self.broadcaster.has_open()

    async def take(self) -> ItemResult | None:
        """The result of the next item to send, or None once the input is used up
        (and every open broadcast bucket was sent)."""
        ready = self._ready
        while True:
            if ready:
                return self._counted(ready.popleft())
            if self.exhausted:  # the input's end, or a stop: the open buckets go
                if not await self._send_open_bucket():
                    return None
                continue
            if self._sync is not None:
                raw = next(self._sync, _END)
            else:
                raw = await self._pull()
            if raw is _END:
                self.exhausted = True
                continue
            index = self._index
            self._index += 1
            result = self._job(index, raw)
            if type(result) is CoroutineType:  # awaited here: one frame less
                # (`type() is` does not narrow the coroutine's result for pyright)
                result = await result  # pyright: ignore[reportUnknownVariableType]
            if isinstance(result, ItemResult):
                return self._counted(result)
            if result is not None:  # (a coroutine was awaited above)
                ready.extend(cast("list[ItemResult]", result))

    async def _send_open_bucket(self) -> bool:
        """Send one open broadcast bucket (its results ready); False when none is
        open."""
        broadcaster = self.broadcaster
        if broadcaster is None or not broadcaster.has_open():
            return False
        self._ready.extend(await broadcaster.send(broadcaster.pop_open()))
        return True

    def _counted(self, result: ItemResult) -> ItemResult:
        self.attempts += result.attempts
        status = result.status
        if status is _DELIVERED:  # an int, not the dict: a StrEnum hashes in Python
            self.delivered += 1
            return result
        self.counts[status] += 1
        error = result.error
        if error is not None and result.attempts and is_fatal(error):
            self.stop(error)
        return result

    async def _pull(self) -> object:
        assert self._async is not None
        async with self._pull_lock:  # an async generator runs once at a time
            return await anext(self._async, _END)

    async def _worker(self) -> None:
        results = self.results
        while (result := await self.take()) is not None:
            if results.full():
                await results.put(result)
            else:  # the common case, without a coroutine frame
                results.put_nowait(result)

    # -- one item ----------------------------------------------------------------------

    def _job(
        self, index: int, raw: object
    ) -> (
        ItemResult
        | list[ItemResult]
        | None
        | Coroutine[Any, Any, ItemResult | list[ItemResult] | None]
    ):
        """Start one item: its result when that is known at once (None: skipped,
        or held in a broadcast bucket), else the coroutine that sends it, for
        `take` to await (a coroutine of our own here would add a frame to every
        send, ~1k instructions an item).

        Whatever goes wrong is this item's result: bad input is `failed` with an
        `InvalidRequestError`; a failure once the item may have left is
        `ambiguous`. Only a cancel passes through.
        """
        try:
            job = self._prepare(index, raw)
        except Exception as exc:
            return refused(index, raw, exc)
        if not isinstance(job, Job):
            return job  # skipped (None) or refused before sending (a failure)
        if job.probe is not None:  # (set only while broadcast is on)
            broadcaster = self.broadcaster
            assert broadcaster is not None
            due = broadcaster.add(job)  # held in its bucket until it is full
            if not isinstance(due, Job):  # held (None), or a bucket is due
                return None if due is None else broadcaster.send(due)
            # Alone (a message not seen lately): a single item like any other.
        traced = telemetry()  # None unless OTel is set up: then a span per item
        if traced is not None:
            return traced.batch_item(self.send_one, job)
        if self.error is not None:
            return self.send_one(job)  # a stop: taken, not sent
        # The common cases, without `send_one`'s coroutine frame.
        ledger = self.ledger
        return self._deliver(job) if ledger is None else self._ledgered(ledger, job)

    async def send_one(self, job: Job) -> ItemResult | None:
        """One item alone: marked, sent, finished (None: delivered before)."""
        if self.error is not None and (stopped := self.stopped) is not None:
            return job.result(ItemStatus.FAILED, None, stopped, 0)  # taken, not sent
        ledger = self.ledger
        if ledger is not None:
            return await self._ledgered(ledger, job)
        return await self._deliver(job)

    async def begin_all(self, jobs: list[Job]) -> tuple[list[Job], list[ItemResult]]:
        """Mark a broadcast bucket's items in flight: (the new ones, the results of
        the others: resumed alone, or failed when the ledger failed)."""
        ledger = self.ledger
        if ledger is None:
            return jobs, []
        fresh: list[Job] = []
        results: list[ItemResult] = []
        for job in jobs:
            if self.stopped is not None:
                results.append(job.result(ItemStatus.FAILED, None, self.stopped, 0))
                continue
            try:
                begun = await ledger.begin(job.key, job.index)
            except KommunicateError as exc:  # not marked, so not sent
                self.stop(exc)
                results.append(job.result(ItemStatus.FAILED, None, exc, 0))
                continue
            if begun == "delivered":
                self.skipped += 1
            elif isinstance(begun, Uncertain):  # an earlier run's: resumed alone
                resumed = await self._resume(job, begun)
                await self.finish_all([resumed])
                results.append(resumed)
            else:
                fresh.append(job)
        return fresh, results

    async def finish_all(self, results: list[ItemResult]) -> None:
        """The final lines of items marked by `begin_all`."""
        ledger = self.ledger
        if ledger is None:
            return
        try:
            for result in results:
                await ledger.finish(line_of(result))
            if self.reconciler.offset_ms != self._clock_kept:
                await self._keep_clock(ledger)
        except KommunicateError as exc:  # the results still go out: not lost
            self.stop(exc)

    async def deliver(self, job: Job) -> ItemResult:
        """`_deliver` for an item already marked (a refused broadcast's)."""
        return await self._deliver(job)

    async def _ledgered(self, ledger: BatchStore, job: Job) -> ItemResult | None:
        """`_deliver` (or `_resume`) between the item's mark in flight (`begin`)
        and its final line (`finish`). Only an item marked here gets a final line:
        one taken but not sent keeps whatever an earlier run left for it."""
        try:
            begun = await ledger.begin(job.key, job.index)
        except KommunicateError as exc:  # not marked, so not sent: a full disk
            self.stop(exc)
            return job.result(ItemStatus.FAILED, None, exc, 0)
        if begun == "new":
            result = await self._deliver(job)
        elif begun == "delivered":
            self.skipped += 1
            return None
        else:
            assert isinstance(begun, Uncertain)
            result = await self._resume(job, begun)
        try:  # the item's final line, and the server's clock if it moved
            await ledger.finish(line_of(result))
            if self.reconciler.offset_ms != self._clock_kept:
                await self._keep_clock(ledger)
        except KommunicateError as exc:  # the result still goes out: not lost
            self.stop(exc)
        return result

    async def _resume(self, job: Job, earlier: Uncertain) -> ItemResult:
        """`_resume_in_flight`; an unexpected failure is the item's `ambiguous`
        result, never the batch's end."""
        try:
            return await self._resume_in_flight(job, earlier)
        except Exception as exc:
            return _unexpected(job, exc)

    def _prepare(self, index: int, raw: object) -> Job | ItemResult | None:
        """The item's key and body; None to skip it; a failure for bad input."""
        if not isinstance(raw, OutgoingMessage):
            raise InvalidRequestError(
                f"batch item {index} is a {type(raw).__name__}, not an OutgoingMessage"
            )
        key = raw.dedupe_key or (
            self._derive_key(index, raw)
            if self._stable_keys
            else f"{self._run_id}{index:x}"  # one run's reconcile: unique is enough
        )
        if type(key) is not str:  # it travels as a metadata value: a str
            raise InvalidRequestError(
                f"batch item {index}: dedupe_key must be a str, not "
                f"{type(key).__name__}"
            )
        shard = self.settings.shard
        if shard is not None and key_hash(key) % shard[1] != shard[0]:
            self.skipped += 1  # another shard's
            return None
        item = raw if raw.dedupe_key else _replace(raw, dedupe_key=key)
        try:
            body = send_body(
                raw.conversation,
                raw.text,
                raw.sender or self.wire.sender,
                raw.metadata,
                dedupe_key=key,
            )
        except InvalidRequestError as exc:
            return ItemResult(index, item, ItemStatus.FAILED, error=exc)
        return Job(index, item, key, body, self._probe(raw))

    def _probe(self, raw: OutgoingMessage) -> int | None:
        """A cheap fingerprint of the item's message (kind of reference, sender,
        text); None when it goes alone: broadcast off, a dedupe key of its own
        (one request carries one key), or the same message to the same
        conversation again."""
        broadcaster = self.broadcaster
        if broadcaster is None or not broadcaster.on or raw.dedupe_key:
            return None
        if self._occurrences.repeat:  # (this item's `key_of` set it, if it ran)
            return None
        return hash((type(raw.conversation), raw.sender, raw.text))

    def _derive_key(self, index: int, raw: OutgoingMessage) -> str:
        """A key a rerun derives again (a ledger or a shard needs one)."""
        if not self._content_keys:  # a checkpoint an earlier version wrote
            return derive_dedupe_key(index, raw)
        return self._occurrences.key_of(raw)

    async def _resume_in_flight(self, job: Job, earlier: Uncertain) -> ItemResult:
        """How a batch resumes an item an earlier run may have sent.

        The walk: `open` read the ledger (the file's lines, or the shared store);
        `ledger.begin` skipped the delivered items and handed back, for an item
        marked in flight (a crash, a kill, a cancel, a torn last line) or left
        `ambiguous`, that run's mark: when it was sent and the server's clock
        offset it knew. Here: without `reconcile` the item is `ambiguous`, never
        sent again; with it, the conversation is read back to that run's send
        (by the server's clock): found is `delivered` (not sent again), a key
        found twice or an unreadable history `ambiguous`, absent is sent now.
        """
        if not self.settings.reconcile:
            error = KommunicateError(
                "possibly sent by an earlier run; rerun with reconcile=True to see"
            )
            error.ambiguous = True
            return job.result(ItemStatus.AMBIGUOUS, None, error, 0)
        since = self.reconciler.since_earlier(earlier)
        # An earlier run may have sent it alone (its own key) or in a broadcast
        # request (a key that starts with its group): either proves it.
        prefix = None
        if job.probe is not None:
            sender = job.item.sender or self.wire.sender
            prefix = f"{broadcast_group(job.item, sender)}~"
        found = await self.reconciler.find(job.item, job.key, since, prefix=prefix)
        settled = _settled(job, found, 0)
        return settled if settled is not None else await self._deliver(job)

    async def _deliver(self, job: Job) -> ItemResult:
        """The one send loop: attempt, and on a failure reconcile what may have
        landed, retry the rest (`_after_failure`). An unexpected failure (a bug)
        is the item's `ambiguous` result, never the batch's end."""
        client, pacer, body = self.client, self.pacer, job.body
        attempts = 0
        try:
            while True:
                attempts += 1
                if pacer is not None:
                    try:
                        await pacer.wait()
                    except KommunicateError as exc:  # a shared limiter is gone: stop
                        return self._unsent(job, exc, attempts - 1)
                started = _monotonic()
                try:  # a retry was paid for by the budget and adds nothing to it
                    sent: SentMessage | None = await client.call(
                        SEND,
                        SentMessage,
                        empty=True,  # an empty success stays ambiguous (`no_key`)
                        body=body,
                        max_retries=0,
                        first_attempt=attempts == 1,
                    )
                except KommunicateError as exc:
                    error: KommunicateError = exc
                else:
                    if sent is not None:
                        return self._delivered(job, sent, attempts)
                    error = no_key()
                final = await self._after_failure(job, error, attempts, started)
                if final is not None:
                    return final
        except Exception as exc:
            return _unexpected(job, exc)

    def _delivered(self, job: Job, sent: SentMessage, attempts: int) -> ItemResult:
        """The result of a send the server took; its `createdAt` tells the server's
        clock when something keeps it (the smallest estimate, see
        `Reconciler.offset_ms`)."""
        if self._learn and (created := sent.created_at) is not None:
            reconciler = self.reconciler
            known = reconciler.offset_ms
            try:  # in floats: half the instructions of `time_ns() // 1_000_000`
                estimate = created - _time() * 1000.0
                if known is None or estimate < known:
                    reconciler.offset_ms = math.floor(estimate)
            except OverflowError:  # a createdAt no float holds: nothing to learn
                pass
        return ItemResult(job.index, job.item, _DELIVERED, sent.key, None, attempts)

    def _unsent(self, job: Job, error: KommunicateError, attempts: int) -> ItemResult:
        """The item's result when the rate limiter itself failed before this
        attempt (a `CoordinationError`): not sent now, and the batch stops, as for
        any fatal error (the result goes out first, so nothing is lost)."""
        self.stop(error)
        return job.result(ItemStatus.FAILED, None, error, attempts)

    async def _after_failure(
        self, job: Job, error: KommunicateError, attempts: int, started: float
    ) -> ItemResult | None:
        """The item's result after a failed attempt (begun at `started`,
        monotonic), or None to send again (after the wait the retry needs)."""
        if is_fatal(error):
            return job.result(ItemStatus.FAILED, None, error, attempts)
        retryable = is_retryable(error, idempotent=False)
        if error.ambiguous:
            if not self.settings.reconcile:
                return job.result(ItemStatus.AMBIGUOUS, None, error, attempts)
            since = self.reconciler.since_failure(wall_ms(started))
            found = await self.reconciler.find(
                job.item, job.key, since, failed_at=started, landing=not _refused(error)
            )
            settled = _settled(job, found, attempts)
            if settled is not None:
                return settled
            retryable = True  # proven absent: sending again cannot duplicate
        delay = self.client.plan_retry(
            error,
            retryable=retryable,
            retries_done=attempts - 1,
            max_retries=self.settings.max_attempts - 1,
        )
        if delay is None:
            return job.result(ItemStatus.FAILED, None, error, attempts)
        if isinstance(error, RateLimitError) and self.pacer is not None:
            await self.pacer.pause(delay)  # every worker of the campaign
        await self.client.wait_before_retry(error, delay)
        return None


def _unexpected(job: Job, exc: Exception) -> ItemResult:
    """An item's result when sending it failed in a way no error class names (a
    bug): `ambiguous`, never the batch's end."""
    error = KommunicateError(f"unexpected {type(exc).__name__}: {exc}")
    error.ambiguous = True
    return job.result(ItemStatus.AMBIGUOUS, None, error, 1)


def _refused(error: KommunicateError) -> bool:
    """A 503: the server answered that it would not take the request; nothing of
    it is still committing, so there is nothing to wait for before a read."""
    return isinstance(error, APIError) and error.status == 503


def _settled(
    job: Job, found: Message | KommunicateError | None, attempts: int
) -> ItemResult | None:
    """The item's result when a reconcile read settles it; None when its key is
    absent, so sending again cannot duplicate."""
    note_reconcile(found)
    if isinstance(found, Message):
        return job.result(ItemStatus.DELIVERED, found.key, None, attempts)
    if found is not None:  # could not look, or a duplicate: do not hide it
        return job.result(ItemStatus.AMBIGUOUS, None, found, attempts)
    return None
