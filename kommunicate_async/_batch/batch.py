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

One item is one job: build the body (bad input is that item's failure), send it,
and on failure one retry loop (`_deliver`) that reuses the client's retry decision
and, with `reconcile`, looks in the conversation before sending again
(`reconcile.py`). Whatever goes wrong with one item is that item's result; only a
fatal error (credentials, permissions, configuration, an unknown host, a checkpoint
that cannot be written) stops the batch, after every item already sent got its
result, with a `BatchStoppedError`.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import AsyncIterable, Iterable, Iterator
from typing import TYPE_CHECKING, Final

import anyio
import msgspec

from .._errors import (
    BatchStoppedError,
    CheckpointError,
    InvalidRequestError,
    KommunicateError,
    RateLimitError,
)
from .._metadata import MetadataKey
from .._pipeline.retry import is_retryable
from ..models.batch import ItemResult, ItemStatus, OutgoingMessage, Progress
from ..models.message import Message, SentMessage
from .checkpoint import Checkpoint, CheckpointLine, Uncertain, key_hash
from .job import (
    Job,
    first_leaf,
    is_fatal,
    line_of,
    no_key,
    refused,
    wall_ms,
)
from .options import (
    BatchOptions,
    BatchSettings,
    Occurrences,
    content_digest,
    derive_dedupe_key,
)
from .reconcile import Reconciler

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from ..resources.messages import Messages
    from ..scaleout import BatchStore, RateLimiter

__all__ = ["DONE", "Batch", "BatchOptions", "BatchSettings", "derive_dedupe_key"]

DONE: Final = object()
"""The end-of-results marker the supervisor puts last."""
_DEDUPE: Final = MetadataKey.DEDUPE_KEY.value


class Batch:
    """One batch: its input, its settings, its workers' results and its counts."""

    def __init__(
        self,
        messages: Messages,
        items: Iterable[OutgoingMessage] | AsyncIterable[OutgoingMessage],
        settings: BatchSettings,
    ) -> None:
        self.messages = messages
        self.client = messages.client
        self.default_sender = messages.default_sender
        self.settings = settings
        self.attempt_timeout = self.client.config.timeouts.attempt
        self.pacer: RateLimiter | None = None
        limit = settings.rate_limit
        if isinstance(limit, int | float):
            from .pacing import Pacer

            self.pacer = Pacer(limit)
        elif limit is not None:
            self.pacer = limit  # shared by the campaign's workers
        self.results: asyncio.Queue[object] = asyncio.Queue(settings.concurrency * 2)
        self.finished = settings.concurrency == 1  # no background workers at all
        """True once every background worker has stopped."""
        self.exhausted = False
        """True once the input has no more items."""
        self.error: BaseException | None = None
        self.counts = dict.fromkeys(ItemStatus, 0)
        self.skipped = 0
        self.attempts = 0
        self.checkpoint: Checkpoint | None = None
        self.store: BatchStore | None = None
        """A shared checkpoint (`scaleout.BatchStore`), instead of the file."""
        self.reconciler = Reconciler(messages, settings, None)
        self.stopped: BatchStoppedError | None = None
        """Set once a fatal error stopped the batch."""
        self._occurrences = Occurrences()
        self._stored_offset: int | None = None
        self._content_keys = True
        self._index = 0
        # Only a checkpoint or a shard needs a key that a rerun derives again; for
        # one run's reconcile, unique is enough (a counter, not a blake2b hash).
        self._stable_keys = (
            settings.checkpoint is not None or settings.shard is not None
        )
        self._run_id = f"r{secrets.token_hex(6)}-"
        self._sync: Iterator[OutgoingMessage] | None = None
        self._async: AsyncIterator[OutgoingMessage] | None = None
        self._pull_lock = asyncio.Lock()
        if isinstance(items, AsyncIterable):
            self._async = aiter(items)
        elif isinstance(items, Iterable):
            self._sync = iter(items)
        else:
            raise InvalidRequestError("items must be an iterable or async iterable")

    def progress(self, started: float) -> Progress:
        """The counts so far."""
        counts = self.counts
        return Progress(
            done=sum(counts.values()),
            delivered=counts[ItemStatus.DELIVERED],
            failed=counts[ItemStatus.FAILED],
            ambiguous=counts[ItemStatus.AMBIGUOUS],
            skipped=self.skipped,
            attempts=self.attempts,
            elapsed=time.monotonic() - started if started else 0.0,
        )

    # -- the workers -------------------------------------------------------------------

    async def open(self) -> None:
        """Lock, read and open the checkpoint (before the first item).

        Raises:
            CheckpointError: it is held by another run, or unusable.
            CoordinationError: a shared store cannot be reached.
        """
        target = self.settings.checkpoint
        if target is None or self.checkpoint is not None or self.store is not None:
            return
        if isinstance(target, str | os.PathLike):
            checkpoint = Checkpoint.open(target)
            self.checkpoint = checkpoint
            self._content_keys = checkpoint.content_keys
            self.reconciler = Reconciler(self.messages, self.settings, checkpoint)
        else:
            await target.open()
            self.store = target

    def close(self) -> None:
        """Write the last lines and close the checkpoint (idempotent).

        Raises:
            CheckpointError: the last lines could not be written.
        """
        if self.checkpoint is not None:
            self.checkpoint.close()

    async def aclose(self) -> None:
        """`close`, and release a shared store."""
        store, self.store = self.store, None
        try:
            self.close()
        finally:
            if store is not None:
                await store.close()

    def stop(self, reason: KommunicateError) -> None:
        """A fatal error: take no more items; those taken and not yet sent are
        reported not attempted; the batch ends with a `BatchStoppedError`."""
        if self.stopped is None:
            self.stopped = BatchStoppedError(reason, next_index=self._index)
            self.stopped.__cause__ = reason
            self.fail(self.stopped)

    async def supervise(self) -> None:
        """Run `concurrency - 1` workers (the consumer is the last one, see
        `BatchIterator`); leave `DONE` when they stop and nothing is queued."""
        try:
            async with anyio.create_task_group() as tg:
                for _ in range(self.settings.concurrency - 1):
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

    async def take(self) -> ItemResult | None:
        """The result of the next item to send, or None once the input is used up."""
        while not self.exhausted:  # the input's end, or a stop
            if self._sync is not None:
                raw = next(self._sync, None)
            else:
                assert self._async is not None
                async with self._pull_lock:  # an async generator runs once at a time
                    raw = await anext(self._async, None)
            if raw is None:
                self.exhausted = True
                return None
            index = self._index
            self._index += 1
            result = await self._job(index, raw)
            if result is not None:
                if self.store is not None:
                    await self._store_finish(result)
                self.counts[result.status] += 1
                self.attempts += result.attempts
                error = result.error
                if error is not None and result.attempts and is_fatal(error):
                    self.stop(error)
                return result
        return None

    async def _worker(self) -> None:
        results = self.results
        while (result := await self.take()) is not None:
            if results.full():
                await results.put(result)
            else:  # the common case, without a coroutine frame
                results.put_nowait(result)

    # -- one item ----------------------------------------------------------------------

    async def _job(self, index: int, raw: object) -> ItemResult | None:
        """Send one item; None when it is skipped (another shard's, or delivered).

        Whatever goes wrong is this item's result: bad input is `failed` with an
        `InvalidRequestError`; a failure once the item may have left is
        `ambiguous`. Only a cancel passes through.
        """
        try:
            job = self._prepare(index, raw)
        except Exception as exc:
            return self._record(refused(index, raw, exc))
        if not isinstance(job, Job):
            return job  # skipped (None) or refused before sending (a failure)
        if self.stopped is not None:  # taken, then the batch stopped: not sent
            return self._record(job.result(ItemStatus.FAILED, None, self.stopped, 0))
        if self.store is not None:
            return await self._store_job(job)
        checkpoint = self.checkpoint
        try:
            if checkpoint is not None:
                checkpoint.sending(job.key, index)
        except CheckpointError as exc:  # not marked, so not sent: a full disk
            self.stop(exc)
            return job.result(ItemStatus.FAILED, None, exc, 0)
        try:
            result = await self._send(job)
        except Exception as exc:
            error = KommunicateError(f"unexpected {type(exc).__name__}: {exc}")
            error.ambiguous = True
            result = job.result(ItemStatus.AMBIGUOUS, None, error, 1)
        return result if checkpoint is None else self._record(result)

    async def _store_job(self, job: Job) -> ItemResult | None:
        """`_job` with a shared store: one `begin` decides skip, reconcile or send."""
        store = self.store
        assert store is not None
        try:
            begun = await store.begin(job.key, job.index)
        except KommunicateError as exc:  # not marked, so not sent
            self.stop(exc)
            return job.result(ItemStatus.FAILED, None, exc, 0)
        if begun == "delivered":
            self.skipped += 1
            return None
        earlier = begun if isinstance(begun, Uncertain) else None
        try:
            return await self._send(job, earlier)
        except Exception as exc:
            error = KommunicateError(f"unexpected {type(exc).__name__}: {exc}")
            error.ambiguous = True
            return job.result(ItemStatus.AMBIGUOUS, None, error, 1)

    async def _store_finish(self, result: ItemResult) -> None:
        store = self.store
        assert store is not None
        try:
            await store.finish(line_of(result))
            offset = self.reconciler.offset_ms
            if offset is not None and offset != self._stored_offset:
                self._stored_offset = offset
                await store.clock(offset)
        except KommunicateError as exc:  # the result still goes out: not lost
            self.stop(exc)

    async def _send(self, job: Job, earlier: Uncertain | None = None) -> ItemResult:
        checkpoint = self.checkpoint
        if checkpoint is not None:
            earlier = checkpoint.uncertain.get(job.hashed)
        if earlier is not None or self.pacer is not None:
            return await self._deliver(job, earlier, None)
        # the common case: one attempt, one typed decode, no extra frames
        started = time.monotonic()
        try:
            sent = await self.client.call(
                self.messages.send_route, SentMessage, body=job.body, max_retries=0
            )
        except KommunicateError as exc:
            return await self._deliver(job, None, exc, started)
        if sent is None:
            return await self._deliver(job, None, no_key(), started)
        self.reconciler.learn(sent)
        return job.result(ItemStatus.DELIVERED, sent.key, None, 1)

    def _prepare(self, index: int, raw: object) -> Job | ItemResult | None:
        """The item's key and body; None to skip it; a failure for bad input."""
        if not isinstance(raw, OutgoingMessage):
            raise InvalidRequestError(
                f"batch item {index} is a {type(raw).__name__}, not an OutgoingMessage"
            )
        key = raw.dedupe_key or self._derive_key(index, raw)
        hashed = key_hash(key) if self._stable_keys else 0
        if self._stable_keys and self._elsewhere(hashed):
            self.skipped += 1
            return None
        item = raw if raw.dedupe_key else msgspec.structs.replace(raw, dedupe_key=key)
        metadata: dict[str, object] = {**raw.metadata} if raw.metadata else {}
        metadata[_DEDUPE] = key
        try:
            body = self.messages.send_body(
                raw.conversation, raw.text, raw.sender or self.default_sender, metadata
            )
        except InvalidRequestError as exc:
            return self._record(ItemResult(index, item, ItemStatus.FAILED, error=exc))
        return Job(index, item, key, hashed, body)

    def _derive_key(self, index: int, raw: OutgoingMessage) -> str:
        if not self._stable_keys:
            return f"{self._run_id}{index:x}"
        if not self._content_keys:  # a checkpoint an earlier version wrote
            return derive_dedupe_key(index, raw)
        digest = content_digest(raw)
        seen = self._occurrences.seen(int.from_bytes(digest[:8], "big"))
        return digest.hex() if seen == 1 else f"{digest.hex()}-{seen}"

    def _elsewhere(self, hashed: int) -> bool:
        """True for another shard's item, or one an earlier run delivered."""
        shard, checkpoint = self.settings.shard, self.checkpoint
        if shard is not None and hashed % shard[1] != shard[0]:
            return True
        return checkpoint is not None and hashed in checkpoint.delivered

    def _record(self, result: ItemResult) -> ItemResult:
        if self.checkpoint is not None:
            self._defer(line_of(result))
        return result

    def _defer(self, line: CheckpointLine) -> None:
        checkpoint = self.checkpoint
        assert checkpoint is not None
        try:
            checkpoint.defer(line)
        except CheckpointError as exc:  # the result is still returned: not lost
            self.stop(exc)

    async def _deliver(
        self,
        job: Job,
        earlier: Uncertain | None,
        error: KommunicateError | None,
        started: float | None = None,
    ) -> ItemResult:
        """The one retry loop: reconcile what may have been sent, retry the rest.

        `error` is the failure of an attempt already made (begun at `started`,
        monotonic); `earlier` the mark of an earlier run that may have sent it.
        """
        attempts = 0 if error is None else 1
        if earlier is not None:
            since = self.reconciler.since_earlier(earlier)
            settled = await self._reconcile(job, since, None, 0, None)
            if settled is not None:
                return settled
        while True:
            if error is None:
                attempts += 1
                started = time.monotonic()
                outcome = await self._send_once(job.body, first=attempts == 1)
                if isinstance(outcome, SentMessage):
                    return job.result(ItemStatus.DELIVERED, outcome.key, None, attempts)
                error = outcome
            if is_fatal(error):
                return job.result(ItemStatus.FAILED, None, error, attempts)
            retryable = is_retryable(error, idempotent=False)
            if error.ambiguous:
                begun = started if started is not None else time.monotonic()
                since = self.reconciler.since_failure(wall_ms(begun))
                settled = await self._reconcile(job, since, error, attempts, begun)
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
            error = None

    async def _send_once(
        self, body: bytes, *, first: bool
    ) -> SentMessage | KommunicateError:
        """One attempt (paced): the sent message, or the error, returned. A retry
        (`first=False`) was paid for by the retry budget and adds nothing to it."""
        if self.pacer is not None:
            await self.pacer.wait()
        try:
            sent = await self.client.call(
                self.messages.send_route,
                SentMessage,
                body=body,
                max_retries=0,
                first_attempt=first,
            )
        except KommunicateError as exc:
            return exc
        if sent is None:
            return no_key()
        self.reconciler.learn(sent)
        return sent

    async def _reconcile(
        self,
        job: Job,
        since_ms: int,
        error: KommunicateError | None,
        attempts: int,
        failed_at: float | None,
    ) -> ItemResult | None:
        """The item's result if the conversation settles it; None when its key is
        absent there, so sending again cannot duplicate."""
        if not self.settings.reconcile:
            if error is None:
                error = KommunicateError(
                    "possibly sent by an earlier run; rerun with reconcile=True to see"
                )
                error.ambiguous = True
            return job.result(ItemStatus.AMBIGUOUS, None, error, attempts)
        if failed_at is not None:  # let a slow commit land before reading
            await self.reconciler.settle(failed_at)
        found = await self.reconciler.find(
            job.item, job.key, since_ms, retry=failed_at is not None
        )
        if isinstance(found, Message):
            return job.result(ItemStatus.DELIVERED, found.key, None, attempts)
        if found is not None:  # could not look, or a duplicate: do not hide it
            return job.result(ItemStatus.AMBIGUOUS, None, found, attempts)
        return None
