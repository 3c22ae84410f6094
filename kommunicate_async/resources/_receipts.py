"""Delivery receipts for a batch: `send_many(..., receipts=...)` (issue 20).

After the batch, `message/info` is asked for the delivered items (all, or a
sample: `receipts=0.1` checks about one in ten, chosen by the item's dedupe key,
so a rerun samples the same items). A member listed with status 4 or a
`deliveredAtTime` got it on a device; status 1 or a `readAtTime` read it
(Applozic "Message Info"; the envelope is read tolerantly). The report counts the
items checked, delivered to a device and read.

An item sent in a `message/sendall` request has no message key from the server:
it comes from its webhook echo (`echoes=`) or, failing that, from one read of its
conversation's newest page. At most `MAX_CHECKED` items are kept for checking
(memory stays bounded); the rest are not checked.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import anyio

from .._errors import InvalidRequestError, KommunicateError
from .._logging import log
from .._metadata import MetadataKey
from ..models.batch import ItemResult, ItemStatus

if TYPE_CHECKING:
    from .._batch.echoes import EchoStore
    from .._batch.redis_echoes import RedisEchoStore
    from ..models.batch import BatchReport
    from .messages import Messages

__all__ = ["MAX_CHECKED", "ReceiptSampler", "check_receipts", "receipts_share"]

MAX_CHECKED: Final = 100_000
_AT_ONCE: Final = 16
_DEDUPE: Final = MetadataKey.DEDUPE_KEY.value


def receipts_share(value: object) -> float:
    """The share of delivered items to check: False 0, True 1, or 0 < x <= 1.

    Raises:
        InvalidRequestError: anything else.
    """
    if value is None or value is False:
        return 0.0
    if value is True:
        return 1.0
    if (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and 0 < value <= 1
    ):
        return float(value)
    raise InvalidRequestError("receipts must be a bool or a share 0 < x <= 1")


@dataclass(frozen=True, slots=True)
class _Kept:
    conversation: int | str
    sender: str | None
    message_key: str | None
    sent_key: str | None


@dataclass(slots=True)
class ReceiptSampler:
    """The delivered items chosen for a receipt check, as results come."""

    share: float
    kept: list[_Kept] = field(default_factory=list[_Kept])

    def offer(self, result: ItemResult) -> None:
        if result.status is not ItemStatus.DELIVERED or len(self.kept) >= MAX_CHECKED:
            return
        if self.share < 1.0 and not _chosen(result.item.dedupe_key or "", self.share):
            return
        item = result.item
        self.kept.append(
            _Kept(
                item.conversation, item.sender, result.message_key, result.broadcast_key
            )
        )


def _chosen(key: str, share: float) -> bool:
    digest = hashlib.blake2b(key.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") < share * 2**32


async def check_receipts(
    messages: Messages,
    sampler: ReceiptSampler,
    report: BatchReport,
    echoes: EchoStore | RedisEchoStore | None,
    default_sender: str,
    echo_wait: float = 3.0,
) -> None:
    """Ask `message/info` for the kept items; count them into `report`.
    Echoes still on their way are waited for up to `echo_wait` seconds, once."""
    kept = sampler.kept
    if echoes is not None:
        wanted = [(k.conversation, k.sent_key) for k in kept if k.sent_key]
        await echoes.wait_for(wanted, echo_wait)
    for start in range(0, len(kept), _AT_ONCE):
        async with anyio.create_task_group() as tg:
            for one in kept[start : start + _AT_ONCE]:
                tg.start_soon(_check_one, messages, one, report, echoes, default_sender)


async def _check_one(
    messages: Messages,
    kept: _Kept,
    report: BatchReport,
    echoes: EchoStore | RedisEchoStore | None,
    default_sender: str,
) -> None:
    try:
        key = await _message_key(messages, kept, echoes)
        if key is None:
            return
        receipts = await messages.info(key, on_behalf_of=kept.sender)
    except KommunicateError as exc:  # a receipt is a report, never a failure
        log.info("receipt of a batch item not read: %s", type(exc).__name__)
        return
    sender = kept.sender or default_sender
    others = [r for r in receipts if r.user_id != sender]
    report.receipts_checked += 1
    if any(r.delivered for r in others):
        report.delivered_to_device += 1
    if any(r.read for r in others):
        report.read += 1


async def _message_key(
    messages: Messages, kept: _Kept, echoes: EchoStore | RedisEchoStore | None
) -> str | None:
    if kept.message_key is not None:
        return kept.message_key
    sent = kept.sent_key
    if sent is None:
        return None
    if echoes is not None:
        found = echoes.find(kept.conversation, sent)
        if found is not None:
            return found
    seen = 0
    async for message in messages.history(
        kept.conversation, page_size=50, on_behalf_of=kept.sender
    ):
        if message.metadata.get(_DEDUPE) == sent:
            return message.key
        seen += 1
        if seen >= 50:  # the newest page only: a campaign's message is recent
            break
    return None
