"""Batch sending: the input item, one result per item, the final report."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import msgspec

from .._errors import KommunicateError  # a Struct field type: needed at run time

__all__ = ["BatchReport", "ItemResult", "ItemStatus", "OutgoingMessage", "Progress"]


class OutgoingMessage(msgspec.Struct, frozen=True):
    """One message to send in a batch (also one line of a batch JSONL file).

    Attributes:
        conversation: the groupId (int) or clientGroupId (str).
        text: the message text.
        sender: `fromUserName`; the session's `on_behalf_of` if None.
        metadata: message metadata (values are stringified for you).
        dedupe_key: your idempotency key (a str; anything else fails the item);
            derived from the item's content when None (docs/guides/bulk-sends.md).
            It travels in the message metadata (`kmDedupeKey`).
    """

    conversation: int | str
    text: str
    sender: str | None = None
    metadata: dict[str, Any] | None = None
    dedupe_key: str | None = None


class ItemStatus(StrEnum):
    """The one final state of a batch item."""

    DELIVERED = "delivered"
    """The server accepted it; `message_key` says which message it became."""
    FAILED = "failed"
    """Definitely not delivered (bad input, a 4xx, or retries ran out)."""
    AMBIGUOUS = "ambiguous"
    """Possibly delivered: the server may have processed it but never said so."""


class ItemResult(msgspec.Struct, frozen=True):
    """The result of one item: exactly one per item of the input.

    Attributes:
        index: the item's position in the input (0-based).
        item: the item, with its dedupe key filled in.
        status: delivered, failed or ambiguous.
        message_key: the server's key of the message, when delivered.
        error: the last error, for failed and ambiguous items.
        attempts: how many times the message was sent (0: never left this process).
        broadcast_key: the dedupe key the message carried when it went out in a
            `message/sendall` request (shared by that request's items; the
            item's own `dedupe_key` stays its identity in the checkpoint). Its
            `message_key` is then known only from a webhook echo or a read.
    """

    index: int
    item: OutgoingMessage
    status: ItemStatus
    message_key: str | None = None
    error: KommunicateError | None = None
    attempts: int = 0
    broadcast_key: str | None = None


@dataclass(frozen=True, slots=True)
class Progress:
    """A snapshot for progress displays (`on_progress`)."""

    done: int
    delivered: int
    failed: int
    ambiguous: int
    skipped: int
    attempts: int
    elapsed: float

    @property
    def rate(self) -> float:
        """Items finished per second so far."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0


@dataclass(slots=True)
class BatchReport:
    """What a whole batch did.

    Attributes:
        total: items given a result in this run (delivered + failed + ambiguous).
        skipped: items a checkpoint showed as delivered already (not sent again),
            plus items of other shards.
        duration: seconds from start to the last result.
        attempts: send attempts made in this run.
        problems: the failed and ambiguous results, in completion order.
        receipts_checked: delivered items whose `message/info` was read
            (`send_many(receipts=...)`; 0 without).
        delivered_to_device: of those, items a member other than the sender got.
        read: of those, items a member other than the sender read.
    """

    total: int = 0
    delivered: int = 0
    failed: int = 0
    ambiguous: int = 0
    skipped: int = 0
    duration: float = 0.0
    attempts: int = 0
    problems: list[ItemResult] = field(default_factory=list[ItemResult])
    receipts_checked: int = 0
    delivered_to_device: int = 0
    read: int = 0

    @property
    def ok(self) -> bool:
        """True when every item of this run was delivered."""
        return self.failed == 0 and self.ambiguous == 0

    def add(self, result: ItemResult) -> None:
        """Count one result."""
        self.total += 1
        self.attempts += result.attempts
        if result.status is ItemStatus.DELIVERED:
            self.delivered += 1
        else:
            if result.status is ItemStatus.FAILED:
                self.failed += 1
            else:
                self.ambiguous += 1
            self.problems.append(result)
