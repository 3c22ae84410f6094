"""Broadcast: items that share their message go out in `message/sendall` requests.

Workers put each eligible item (no dedupe key of its own, not a repeat of the same
message to the same conversation) in a bucket of items with the same sender, text
and metadata (`broadcast_group`); the worker that fills a bucket to
`broadcast_chunk` sends it. The first item of a message not seen lately goes
alone at once, so an input of all-different messages is never held back; at the
input's end the open buckets are sent; at most `_MAX_OPEN` buckets are open at
once (the oldest goes out early), so memory stays bounded whatever the input.

Per-item accounting is unchanged: every item is marked in the ledger before the
request and gets its own result after it. One dedupe key travels per request
(`<group>~<run><chunk>`), so an item's identity is (its conversation, that key):
after an ambiguous request each target is proven by its webhook echo (`echoes=`)
or, with `reconcile`, by reading its conversation; only the targets proven absent
are sent again, in one request. A rerun recognises an earlier run's request by
the key's first part, the group (`reconcile.py`).

When the server refuses a request (a 4xx or an error envelope: nothing was sent),
its items are sent one by one; when it refuses the endpoint itself (401, 403,
404, 405: the credentials or the route, UNCERTAIN, `sendall.py`), broadcast is off
for the rest of the batch, said once in a WARNING.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Final, TypeVar

import anyio

from .._errors import APIError, KommunicateError, RateLimitError
from .._logging import log
from .._pipeline.retry import is_retryable
from ..models.batch import ItemResult, ItemStatus
from ..models.message import Message
from .job import is_fatal, wall_ms
from .reconcile import DuplicateSendError, no_budget
from .sendall import (
    SENDALL,
    broadcast_group,
    check_reply,
    is_refusal,
    refuses_endpoint,
    sendall_body,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from .batch import Batch
    from .job import Job

__all__ = ["Broadcaster"]

_MAX_OPEN: Final = 8
"""Buckets open at once; a new group beyond them sends the oldest bucket, so an
input of all-different messages is held back by at most 8 items."""
_RECENT: Final = 4096
"""Messages remembered: an item whose message is not among them goes alone."""
_MAX_ENDPOINT_REFUSALS: Final = 3
AMBIGUOUS: Final = ItemStatus.AMBIGUOUS
DELIVERED: Final = ItemStatus.DELIVERED
_READS_AT_ONCE: Final = 8
"""History reads of one ambiguous request's targets in flight at once."""


class Broadcaster:
    """The open buckets of one batch, and how a full one is sent."""

    def __init__(self, batch: Batch, chunk: int) -> None:
        self.batch = batch
        self.chunk = chunk
        self.on = True
        """False once the server refused the endpoint: single sends from then on."""
        self.requests = 0
        """`message/sendall` requests made (each attempt counts)."""
        self._open: OrderedDict[str, list[Job]] = OrderedDict()
        self._run = secrets.token_hex(3)
        self._chunks = itertools.count()
        self._refusals = 0
        self._recent: set[int | None] = set()

    # -- buckets -----------------------------------------------------------------------

    def add(self, job: Job) -> list[Job] | Job | None:
        """Put `job` in its bucket: the bucket to send now, if one is due; `job`
        itself when it goes alone (sent like any single item)."""
        probe, recent = job.probe, self._recent
        if probe not in recent:  # a message not seen lately goes alone, never held
            # It is remembered now. The set is emptied when full: cheaper than an
            # LRU, and a forgotten message only means one more item goes alone.
            if len(recent) >= _RECENT:
                recent.clear()
            recent.add(probe)
            return job
        item = job.item
        group = job.group = broadcast_group(item, item.sender or self.batch.wire.sender)
        bucket = self._open.get(group)
        if bucket is None:  # (the same text with other metadata opens its own)
            due = None
            if len(self._open) >= _MAX_OPEN:
                due = self._open.popitem(last=False)[1]
            self._open[group] = [job]
            return due
        if any(j.item.conversation == item.conversation for j in bucket):
            return job  # the same message twice to one conversation: alone
        bucket.append(job)
        if len(bucket) >= self.chunk:
            del self._open[group]
            return bucket
        return None

    def has_open(self) -> bool:
        return bool(self._open)

    def pop_open(self) -> list[Job]:
        """One open bucket, taken out (the input ended, or the batch stopped)."""
        return self._open.popitem(last=False)[1]

    # -- one bucket --------------------------------------------------------------------

    async def send(self, jobs: list[Job]) -> list[ItemResult]:
        """Every item of `jobs` gets its result: marked, sent, finished."""
        batch = self.batch
        stopped = batch.stopped
        if stopped is not None:  # taken, not sent: an earlier run's mark stays
            return [job.result(ItemStatus.FAILED, None, stopped, 0) for job in jobs]
        if len(jobs) == 1 or not self.on:
            alone = await _each(jobs, batch.send_one, batch.workers)
            return [result for result in alone if result is not None]
        fresh, results = await batch.begin_all(jobs)
        if fresh:
            sent = await self._deliver(fresh)
            await batch.finish_all(sent)
            results += sent
        return results

    async def _deliver(self, jobs: list[Job]) -> list[ItemResult]:
        """The request loop: send, prove what landed, send the rest again."""
        first = jobs[0]
        key = f"{first.group}~{self._run}{next(self._chunks):x}"
        done: list[ItemResult] = []
        targets, attempts = jobs, 0
        while targets:
            attempts += 1
            started = time.monotonic()
            error = await self._post(targets, key, first_attempt=attempts == 1)
            if error is None:
                done += [self._delivered(j, key, None, attempts) for j in targets]
                break
            if is_refusal(error):
                return done + await self._fall_back(targets, error)
            targets, settled = await self._after_failure(
                targets, key, error, attempts, started
            )
            done += settled
        return done

    async def _post(
        self, targets: list[Job], key: str, *, first_attempt: bool
    ) -> KommunicateError | None:
        batch = self.batch
        item = targets[0].item
        sender = item.sender or batch.wire.sender
        body = sendall_body(
            [j.item.conversation for j in targets], item.text, item.metadata, key
        )
        try:
            if batch.pacer is not None:
                await batch.pacer.wait()
            self.requests += 1
            if first_attempt:  # the retry budget earns per item, as one by one
                for _ in range(len(targets) - 1):
                    batch.client.budget.record_attempt()
            reply: bytes | None = await batch.client.call(
                SENDALL,
                bytes,
                empty=True,
                body=body,
                acting_as=sender,
                max_retries=0,
                first_attempt=first_attempt,
            )
            check_reply(reply)
        except KommunicateError as exc:
            return exc
        return None

    def _delivered(
        self, job: Job, key: str, message_key: str | None, attempts: int
    ) -> ItemResult:
        echoes = self.batch.settings.echoes
        if message_key is None and echoes is not None:
            message_key = echoes.find(job.item.conversation, key)
        return job.result(ItemStatus.DELIVERED, message_key, None, attempts, key)

    async def _fall_back(
        self, targets: list[Job], error: KommunicateError
    ) -> list[ItemResult]:
        """The server refused the request (nothing sent): one by one instead."""
        assert isinstance(error, APIError)
        self._refusals += 1
        if self.on and (
            refuses_endpoint(error) or self._refusals >= _MAX_ENDPOINT_REFUSALS
        ):
            self.on = False
            log.warning(
                "message/sendall refused (%s: %s): sending one message per item "
                "for the rest of this batch (broadcast=False skips the attempt)",
                type(error).__name__,
                error,
            )
        return await _each(targets, self.batch.deliver, self.batch.workers)

    async def _after_failure(
        self,
        targets: list[Job],
        key: str,
        error: KommunicateError,
        attempts: int,
        started: float,
    ) -> tuple[list[Job], list[ItemResult]]:
        """(the targets to send again, the results settled) after a failed request."""
        batch = self.batch
        if is_fatal(error):
            return [], [
                j.result(ItemStatus.FAILED, None, error, attempts, key) for j in targets
            ]
        retryable = is_retryable(error, idempotent=False)
        settled: list[ItemResult] = []
        if error.ambiguous:
            targets, settled = await self._prove(targets, key, error, attempts, started)
            retryable = True  # the rest proven absent: sending again cannot duplicate
        if not targets:
            return [], settled
        delay = batch.client.plan_retry(
            error,
            retryable=retryable,
            retries_done=attempts - 1,
            max_retries=batch.settings.max_attempts - 1,
        )
        if delay is None:
            return [], settled + [
                j.result(ItemStatus.FAILED, None, error, attempts, key) for j in targets
            ]
        if isinstance(error, RateLimitError) and batch.pacer is not None:
            await batch.pacer.pause(delay)
        await batch.client.wait_before_retry(error, delay)
        return targets, settled

    async def _prove(
        self,
        targets: list[Job],
        key: str,
        error: KommunicateError,
        attempts: int,
        started: float,
    ) -> tuple[list[Job], list[ItemResult]]:
        """Which targets of an ambiguous request landed: echoes first, then (with
        `reconcile`) each conversation's history. (absent targets, settled)."""
        landing = not (isinstance(error, APIError) and error.status == 503)
        unproven, settled = await self._echoed(targets, key, attempts, started, landing)
        if not self.batch.settings.reconcile:
            return [], settled + [
                j.result(ItemStatus.AMBIGUOUS, None, error, attempts, key)
                for j in unproven
            ]
        absent, read = await self._read(unproven, key, attempts, started, landing)
        return absent, settled + read

    async def _echoed(
        self, targets: list[Job], key: str, attempts: int, started: float, landing: bool
    ) -> tuple[list[Job], list[ItemResult]]:
        """(the targets with no echo, the delivered results of those with one),
        waiting for echoes until `settle` after the request began."""
        settings = self.batch.settings
        if settings.echoes is None:
            return targets, []
        wait = started + settings.settle - time.monotonic() if landing else 0.0
        wanted = [(j.item.conversation, key) for j in targets]
        echoed = await settings.echoes.wait_for(wanted, max(0.0, wait))
        settled: list[ItemResult] = []
        unproven: list[Job] = []
        for job in targets:
            found = echoed.get((job.item.conversation, key))
            if found is None:
                unproven.append(job)
            else:
                settled.append(self._delivered(job, key, found, attempts))
        return unproven, settled

    async def _read(
        self, targets: list[Job], key: str, attempts: int, started: float, landing: bool
    ) -> tuple[list[Job], list[ItemResult]]:
        """(the targets proven absent, the results of the others) from each
        conversation's history.

        One retry-budget token pays for the whole request's proof (given back
        when a read finds its message); a read that fails (an outage) stops the
        reading, and the targets left unread stay ambiguous: a failed request
        costs a few reads in an outage, never one a target.
        """
        batch = self.batch
        budget = batch.client.budget
        if not budget.try_spend():
            error = no_budget()
            return [], [
                j.result(AMBIGUOUS, None, error, attempts, key) for j in targets
            ]
        since = batch.reconciler.since_failure(wall_ms(started))

        async def read(job: Job) -> Message | KommunicateError | None:
            return await batch.reconciler.find(
                job.item, key, since, failed_at=started, landing=landing, paid=True
            )

        absent: list[Job] = []
        settled: list[ItemResult] = []
        failed: KommunicateError | None = None
        for start in range(0, len(targets), _READS_AT_ONCE):
            chunk = targets[start : start + _READS_AT_ONCE]
            if failed is not None:  # the history cannot be read now: stop reading
                settled += [
                    j.result(AMBIGUOUS, None, failed, attempts, key) for j in chunk
                ]
                continue
            outcomes = await _each(chunk, read, _READS_AT_ONCE)
            failed = self._sort(chunk, outcomes, key, attempts, absent, settled)
        if any(r.status is DELIVERED for r in settled):
            budget.refund()  # the reads found what landed: progress
        return absent, settled

    def _sort(
        self,
        jobs: list[Job],
        outcomes: list[Message | KommunicateError | None],
        key: str,
        attempts: int,
        absent: list[Job],
        settled: list[ItemResult],
    ) -> KommunicateError | None:
        """Put each read's job in `absent` or its result in `settled`; the error
        of a read that failed (not a duplicate), if one did."""
        failed: KommunicateError | None = None
        for job, outcome in zip(jobs, outcomes, strict=True):
            if isinstance(outcome, Message):
                settled.append(self._delivered(job, key, outcome.key, attempts))
            elif outcome is None:
                absent.append(job)
            else:
                settled.append(job.result(AMBIGUOUS, None, outcome, attempts, key))
                if not isinstance(outcome, DuplicateSendError):
                    failed = outcome
        return failed


T = TypeVar("T")
R = TypeVar("R")


async def _each(
    items: list[T], run: Callable[[T], Awaitable[R]], at_once: int
) -> list[R]:
    """`run` on every item, `at_once` at a time (the batch's `concurrency`: a
    bucket sent one by one never has more sends in flight than the batch may);
    the results in the items' order."""
    if len(items) == 1 or at_once <= 1:
        return [await run(item) for item in items]
    out: list[R | None] = [None] * len(items)
    limiter = anyio.CapacityLimiter(at_once)

    async def one(i: int, value: T) -> None:
        async with limiter:
            out[i] = await run(value)

    async with anyio.create_task_group() as tg:
        for i, value in enumerate(items):
            tg.start_soon(one, i, value)
    return out  # type: ignore[return-value]
