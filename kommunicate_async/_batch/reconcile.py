"""Reconcile: was a possibly-sent batch item stored? Read the conversation, by the
server's clock, after the send had time to land, within the retry budget.

Three ways a naive "look in the history" sends a message twice, each closed here:

- **Clock skew.** "Since when" must be the server's time. The offset (server minus
  us) is learned from `createdAt` of delivered sends, kept in the checkpoint for
  reruns; with none known, reconcile reads back `reconcile_lookback` seconds.
- **Late commits.** A send that timed out may still be committing: reconcile waits
  until `settle` seconds after the attempt failed before it reads.
- **Outages.** Each history page is read once (no retries of its own) and only
  with a token from the session's retry budget; without one the item is left
  `ambiguous`, so an outage costs about one request an item, not three. The token
  is taken before the `settle` wait: an item whose read would be refused is left
  `ambiguous` at once, never after a wait for nothing; and a send the server
  refused (a 503: it answered, nothing of it is still committing) is read at once
  (#18: 1,000 items of a 503 outage took 60 s). A read that finds the message
  gives its token back: it settled the item (a slow but working server is read as
  often as it needs).

A key found twice is reported (the item is `ambiguous`, with both message keys in
its error), never hidden.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Final

import anyio

from .._errors import KommunicateError
from .._message_wire import read_history
from .._metadata import MetadataKey

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from .._message_wire import MessageWire
    from ..models.batch import OutgoingMessage
    from ..models.message import Message
    from .checkpoint import Uncertain
    from .options import BatchSettings

__all__ = ["DuplicateSendError", "Reconciler", "no_budget", "now_ms"]

_DEDUPE: Final = MetadataKey.DEDUPE_KEY.value
_MARGIN_MS: Final = 2_000
"""Slack on a known offset (its estimate and the server's own timestamps)."""
_PAGE: Final = 50


def now_ms() -> int:
    return int(time.time() * 1000)


class DuplicateSendError(KommunicateError):
    """The item's dedupe key is in the conversation more than once."""

    ambiguous = True

    def __init__(self, key: str, message_keys: list[str]) -> None:
        super().__init__(
            f"dedupe key {key!r} was found {len(message_keys)} times in the "
            f"conversation (messages {', '.join(message_keys)}): sent more than once"
        )
        self.message_keys = message_keys


class Reconciler:
    """One batch's clock knowledge and history reads."""

    __slots__ = ("_lookback_ms", "_settle", "_wire", "offset_ms")

    def __init__(self, wire: MessageWire, settings: BatchSettings) -> None:
        self._wire = wire
        self._settle = settings.settle
        self._lookback_ms = int(settings.reconcile_lookback * 1000)
        self.offset_ms: int | None = None
        """The server's clock minus ours (ms), the smallest estimate seen: an
        estimate can only be low by the reply's latency, and low reads further
        back, which is safe. The batch learns it from each delivered send's
        `createdAt` (`Batch._delivered`) and keeps it in its ledger for reruns."""

    def since_failure(self, started_ms: int) -> int:
        """Server time before which an attempt started at `started_ms` (ours)
        cannot have landed."""
        if self.offset_ms is None:
            return started_ms - self._lookback_ms
        return started_ms + self.offset_ms - _MARGIN_MS

    def since_earlier(self, mark: Uncertain) -> int:
        """The same for an item an earlier run marked in flight: with that run's
        offset when it had one (it may have run on another machine)."""
        if mark.offset is None:
            return mark.at - self._lookback_ms
        return mark.at + mark.offset - _MARGIN_MS

    async def find(
        self,
        item: OutgoingMessage,
        key: str,
        since_ms: int,
        *,
        failed_at: float | None = None,
        landing: bool = True,
        prefix: str | None = None,
        paid: bool = False,
    ) -> Message | KommunicateError | None:
        """The message carrying `key`; None if absent back to `since_ms` (server
        time); or the error that stopped the search (then nobody knows).

        `failed_at` (monotonic): the read follows a send that failed then, so it
        is paid for by the retry budget (an outage must not multiply traffic) and,
        when the send may still be `landing` (no final answer came: a timeout, a
        disconnect, a gateway's 502/504), waits until `settle` seconds after it,
        only once it is paid for. An
        earlier run's item (`failed_at=None`) is read at once, as this run's first
        request for it. `prefix`: a key that starts with it matches too (an
        earlier run's broadcast request, `broadcast.py`). `paid`: the caller
        paid for this read (a broadcast request's proof takes one token for all
        its targets): nothing is spent or given back here.
        """
        retry = failed_at is not None
        budget = self._wire.client.budget
        if failed_at is not None and not await self._paid_and_settled(
            failed_at, landing=landing, paid=paid
        ):
            return _no_budget()
        try:
            found = await self._scan(item, key, since_ms, retry=retry, prefix=prefix)
        except KommunicateError as exc:
            return exc
        if found is None:
            return None
        if len(found) > 1:
            return DuplicateSendError(key, [m.key for m in found])
        if retry and not paid:  # the read settled the item: traffic that made progress
            budget.refund()
        return found[0]

    async def _paid_and_settled(
        self, failed_at: float, *, landing: bool, paid: bool
    ) -> bool:
        """Take the read's token (unless `paid`), then let a send that may still
        be `landing` land: False when the budget refused the read."""
        if not paid and not self._wire.client.budget.try_spend():
            return False  # a read is a retry's worth
        wait = failed_at + self._settle - time.monotonic()
        if landing and wait > 0:  # let a slow commit land before reading
            await anyio.sleep(wait)
        return True

    async def _scan(
        self,
        item: OutgoingMessage,
        key: str,
        since_ms: int,
        *,
        retry: bool,
        prefix: str | None = None,
    ) -> list[Message] | None:
        """The messages carrying `key` back to `since_ms`; None when there are
        none. Each page after the first is one more retry's worth.

        Raises:
            KommunicateError: a read failed, or the budget refused a page.
        """
        found: list[Message] = []
        budget = self._wire.client.budget
        seen = 0
        async for message in self._pages(item, retry=retry):
            seen += 1
            if retry and seen % _PAGE == 1 and seen > _PAGE and not budget.try_spend():
                raise _no_budget()
            if _carries(message, key, prefix):
                found.append(message)
            if message.created_at and message.created_at < since_ms:
                break
        return found or None

    async def _pages(
        self, item: OutgoingMessage, *, retry: bool
    ) -> AsyncIterator[Message]:
        wire = self._wire
        group_id = await wire.group_id(item.conversation)
        async for message in read_history(
            wire.client,
            group_id,
            acting=wire.sender,
            page_size=_PAGE,
            max_retries=0,
            first_attempt=not retry,
        ):
            yield message


def _carries(message: Message, key: str, prefix: str | None) -> bool:
    """The message carries `key`, or (with `prefix`) a key that starts with it."""
    carried = message.metadata.get(_DEDUPE)
    if carried == key:
        return True
    return (
        prefix is not None and isinstance(carried, str) and carried.startswith(prefix)
    )


def no_budget() -> KommunicateError:
    """The ambiguous error of an item whose read the spent budget refused."""
    return _no_budget()


def _no_budget() -> KommunicateError:
    error = KommunicateError(
        "possibly sent; not reconciled: the session's retry budget is spent "
        "(an outage?), rerun with reconcile=True later"
    )
    error.ambiguous = True
    return error
