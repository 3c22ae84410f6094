"""High-volume sending: lazy input, a fixed pool of workers, one result per item.

Design (numbers from this machine, see benchmarks/README.md): anyio's CapacityLimiter,
memory streams and per-item `start_soon` each cost 8-36 us per item, more than the
~7 us the whole library may add to a send. So the bound on in-flight work is a fixed
pool of `concurrency` workers started once in one anyio task group; they pull items
one at a time (backpressure: nothing is read ahead), and hand results over through an
`asyncio.Queue` whose room is bounded by a semaphore. The task group lives in a
supervisor task, never across a `yield` of the consumer's iterator.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import anyio
import msgspec

from ._channel import Channel
from ._checkpoint import SENDING, Checkpoint, CheckpointLine, key_hash
from ._errors import InvalidRequestError, KommunicateError, ResponseValidationError
from ._metadata import MetadataKey
from ._retry import is_retryable
from .models.batch import ItemResult, ItemStatus, OutgoingMessage, Progress
from .models.message import Message, SentMessage

if TYPE_CHECKING:
    import os

    from ._client import ApiClient
    from ._routing import Route

__all__ = ["DONE", "BatchOptions", "BatchRun", "derive_dedupe_key"]

Lister = Callable[[int | str], AsyncIterator[Message]]
BodyBuilder = Callable[[int | str, str, str, dict[str, object]], bytes]

DONE: Final = object()
"""The end-of-results marker the supervisor puts last."""
_DEDUPE: Final = MetadataKey.DEDUPE_KEY.value
_UNKNOWN_SKEW_MS: Final = 300_000
"""How far back to look when reconciling before we know the server's clock."""
_SKEW_MARGIN_MS: Final = 2_000


def derive_dedupe_key(index: int, item: OutgoingMessage) -> str:
    """The key of an item without one: stable for the same input in the same order."""
    material = f"{index}\x1f{item.conversation}\x1f{item.sender or ''}\x1f{item.text}"
    return hashlib.blake2b(material.encode(), digest_size=12).hexdigest()


def _now_ms() -> int:
    return int(time.time() * 1000)


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _valid_shard(shard: object) -> bool:
    if not isinstance(shard, tuple) or len(shard) != 2:  # pyright: ignore[reportUnknownArgumentType]
        return False
    k, n = shard  # pyright: ignore[reportUnknownVariableType]
    return isinstance(k, int) and isinstance(n, int) and 0 <= k < n


@dataclass(frozen=True, slots=True)
class BatchOptions:
    """Checked batch settings (see `Messages.iter_send` for their meaning)."""

    concurrency: int = 32
    rate_limit: float | None = None
    checkpoint: str | os.PathLike[str] | None = None
    on_progress: Callable[[Progress], object] | None = None
    reconcile: bool = False
    shard: tuple[int, int] | None = None
    max_attempts: int = 3

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


class BatchRun:
    """The state of one batch, driven by the supervisor task."""

    def __init__(
        self,
        client: ApiClient,
        route: Route,
        build_body: BodyBuilder,
        lister: Lister,
        default_sender: str,
        items: Iterable[OutgoingMessage] | AsyncIterable[OutgoingMessage],
        options: BatchOptions,
    ) -> None:
        self.client = client
        self.route = route
        self.build_body = build_body
        self.lister = lister
        self.default_sender = default_sender
        self.options = options
        self.attempt_timeout = client.config.timeouts.attempt
        self.pacer = None
        if options.rate_limit is not None:
            from ._pacing import Pacer

            self.pacer = Pacer(options.rate_limit)
        self.results: Channel[object] = Channel(options.concurrency * 2)
        self.error: BaseException | None = None
        self.skipped = 0
        self.checkpoint: Checkpoint | None = None
        self._offset_ms: int | None = None
        self._index = 0
        self._sync: Iterator[OutgoingMessage] | None = None
        self._async: AsyncIterator[OutgoingMessage] | None = None
        self._pull_lock = asyncio.Lock()
        if isinstance(items, AsyncIterable):
            self._async = aiter(items)
        elif isinstance(items, Iterable):
            self._sync = iter(items)
        else:
            raise InvalidRequestError("items must be an iterable or async iterable")

    # -- the supervisor -------------------------------------------------------------

    async def supervise(self) -> None:
        """Run the workers until the input is exhausted; always end with `_DONE`."""
        try:
            if self.options.checkpoint is not None:
                self.checkpoint = Checkpoint.open(self.options.checkpoint)
            async with anyio.create_task_group() as tg:
                for _ in range(self.options.concurrency):
                    tg.start_soon(self._worker)
        except BaseExceptionGroup as group:  # a bug in a worker: hand back one error
            self.error = _first(group)
        except Exception as exc:  # handed to the consumer, not lost
            self.error = exc
        finally:
            if self.checkpoint is not None:
                self.checkpoint.close()
            self.results.put_final(DONE)

    async def _worker(self) -> None:
        sync, source, results = self._sync, self._async, self.results
        while True:
            if sync is not None:
                item = next(sync, None)
            else:
                assert source is not None
                async with (
                    self._pull_lock
                ):  # an async generator cannot run twice at once
                    item = await anext(source, None)
            if item is None:
                return
            index = self._index
            self._index += 1
            result = await self._process(index, item)
            if result is not None:
                await results.put(result)

    # -- one item -------------------------------------------------------------------

    async def _process(self, index: int, raw: object) -> ItemResult | None:
        if not isinstance(raw, OutgoingMessage):
            raise InvalidRequestError(
                f"batch item {index} is a {type(raw).__name__}, not an OutgoingMessage"
            )
        key = raw.dedupe_key or derive_dedupe_key(index, raw)
        shard = self.options.shard
        checkpoint = self.checkpoint
        hashed = key_hash(key) if shard is not None or checkpoint is not None else 0
        if (shard is not None and hashed % shard[1] != shard[0]) or (
            checkpoint is not None and hashed in checkpoint.delivered
        ):
            self.skipped += 1
            return None
        item = raw if raw.dedupe_key else msgspec.structs.replace(raw, dedupe_key=key)
        metadata: dict[str, object] = {**raw.metadata} if raw.metadata else {}
        metadata[_DEDUPE] = key
        try:
            body = self.build_body(
                raw.conversation, raw.text, raw.sender or self.default_sender, metadata
            )
        except InvalidRequestError as exc:
            return self._record(ItemResult(index, item, ItemStatus.FAILED, error=exc))
        earlier = checkpoint.uncertain.get(hashed) if checkpoint is not None else None
        if checkpoint is None and self.pacer is None:
            # The common case, inline: one attempt, one typed decode. Anything else
            # (an earlier run's doubt, a failure, pacing) goes through `_deliver`.
            sent = await self._attempt(body)
            if isinstance(sent, SentMessage):
                return ItemResult(index, item, ItemStatus.DELIVERED, sent.key, None, 1)
            return await self._deliver(index, item, key, body, None, first_error=sent)
        if checkpoint is None:
            return await self._deliver(index, item, key, body, earlier)
        checkpoint.write(CheckpointLine(key, SENDING, index, _now_ms()))
        return self._record(await self._deliver(index, item, key, body, earlier))

    def _record(self, result: ItemResult) -> ItemResult:
        if self.checkpoint is not None:
            error = (
                None
                if result.error is None
                else f"{type(result.error).__name__}: {result.error}"
            )
            self.checkpoint.write(
                CheckpointLine(
                    result.item.dedupe_key or "",
                    result.status.value,
                    result.index,
                    _now_ms(),
                    result.message_key,
                    error,
                    result.attempts,
                )
            )
        return result

    async def _deliver(
        self,
        index: int,
        item: OutgoingMessage,
        key: str,
        body: bytes,
        earlier_ms: int | None,
        *,
        first_error: KommunicateError | None = None,
    ) -> ItemResult:
        if earlier_ms is not None:  # an earlier run may have sent it
            if not self.options.reconcile:
                error = KommunicateError(
                    "possibly sent by an earlier run; rerun with reconcile=True to see"
                )
                error.ambiguous = True
                return ItemResult(index, item, ItemStatus.AMBIGUOUS, error=error)
            found = await self._find(item, key, earlier_ms - _SKEW_MARGIN_MS)
            if isinstance(found, Message):
                return ItemResult(index, item, ItemStatus.DELIVERED, found.key)
            if found is not None:  # could not look: still unknown, do not risk a copy
                return ItemResult(index, item, ItemStatus.AMBIGUOUS, error=found)
        attempts = 0
        client = self.client
        while True:
            if first_error is not None:  # the inline first attempt already failed
                attempts, error, first_error = 1, first_error, None
            else:
                if self.pacer is not None:
                    await self.pacer.wait()
                attempts += 1
                outcome = await self._attempt(body)
                if isinstance(outcome, SentMessage):
                    return ItemResult(
                        index, item, ItemStatus.DELIVERED, outcome.key, None, attempts
                    )
                error = outcome
            retryable = is_retryable(error, idempotent=False)
            if error.ambiguous:
                if not self.options.reconcile:
                    return ItemResult(
                        index, item, ItemStatus.AMBIGUOUS, None, error, attempts
                    )
                found = await self._find(item, key, self._since_failure())
                if isinstance(found, Message):
                    return ItemResult(
                        index, item, ItemStatus.DELIVERED, found.key, None, attempts
                    )
                if found is not None:  # could not look: still unknown
                    return ItemResult(
                        index, item, ItemStatus.AMBIGUOUS, None, error, attempts
                    )
                retryable = True  # proven absent: sending again cannot duplicate
            delay = client.plan_retry(
                error,
                retryable=retryable,
                retries_done=attempts - 1,
                max_retries=self.options.max_attempts - 1,
            )
            if delay is None:
                return ItemResult(index, item, ItemStatus.FAILED, None, error, attempts)
            await client.wait_before_retry(error, delay)

    async def _attempt(self, body: bytes) -> SentMessage | KommunicateError:
        """One send: the message, or the error (returned, to keep the loop flat)."""
        try:
            sent: SentMessage | None = await self.client.call(
                self.route, SentMessage, body=body, max_retries=0
            )
        except KommunicateError as exc:
            return exc
        if sent is None:
            return _no_key()
        if self._offset_ms is None and sent.created_at is not None:
            self._offset_ms = sent.created_at - _now_ms()  # the server's clock
        return sent

    def _since_failure(self) -> int:
        """Server time before which a just-failed attempt cannot have landed.

        The attempt started at most one attempt-timeout ago; the server's clock is
        ours plus the offset seen on a delivered send (or unknown: look further).
        """
        started_ms = _now_ms() - int(self.attempt_timeout * 1000)
        if self._offset_ms is None:
            return started_ms - _UNKNOWN_SKEW_MS
        return started_ms + self._offset_ms - _SKEW_MARGIN_MS

    async def _find(
        self, item: OutgoingMessage, key: str, since_ms: int
    ) -> Message | KommunicateError | None:
        """The message carrying `key`, None if absent, or the error that stopped us."""
        try:
            async for message in self.lister(item.conversation):
                if message.metadata.get(MetadataKey.DEDUPE_KEY) == key:
                    return message
                if message.created_at and message.created_at < since_ms:
                    return None
        except KommunicateError as exc:
            return exc
        return None


def _no_key() -> ResponseValidationError:
    error = ResponseValidationError("send returned no messageKey", status=200)
    error.ambiguous = True
    return error


def _first(group: BaseExceptionGroup[Any]) -> BaseException:
    first: BaseException = group.exceptions[0]
    while isinstance(first, BaseExceptionGroup):
        nested: BaseExceptionGroup[Any] = first  # pyright: ignore[reportUnknownVariableType]
        first = nested.exceptions[0]
    return first
