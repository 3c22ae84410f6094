"""Settle a checkpoint later, without sending: `km.messages.settle(path)` and
`kommunicate-async settle CHECKPOINT` (issue 20).

Every item whose last line is `ambiguous` names its conversation and the dedupe
key its message carried (its own, or its broadcast request's `sent_key`). Each
is looked for: in an `EchoStore` when one is given, else in its conversation's
history back to `lookback` seconds before the item's first mark (its `sending`
line; by the server's clock when the checkpoint knows it). Found: a `delivered`
line (with the message key) is appended, and a rerun skips it. Absent: a
`failed` line, and a rerun sends it again (the send was long enough ago to have
landed). A read that fails, or a key found twice, leaves it ambiguous. Items
still `sending` (a crash before any outcome) name no conversation: a rerun with
the input and `reconcile=True` settles them.

The file is locked for the duration, as a batch locks it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import msgspec

from .._errors import CheckpointError, KommunicateError
from ..models.batch import OutgoingMessage
from .checkpoint import CLOCK, RUN, SENDING, Checkpoint, CheckpointLine, Uncertain
from .options import BatchSettings
from .reconcile import Reconciler, now_ms

if TYPE_CHECKING:
    from .._message_wire import MessageWire
    from ..models.message import Message
    from .echoes import EchoStore
    from .redis_echoes import RedisEchoStore

__all__ = ["SettleReport", "settle_checkpoint"]

_AMBIGUOUS: Final = "ambiguous"
_replace: Final = msgspec.structs.replace


@dataclass(slots=True)
class SettleReport:
    """What settling a checkpoint did.

    Attributes:
        delivered: ambiguous items found in their conversation (now `delivered`).
        failed: ambiguous items proven absent (now `failed`: a rerun sends them).
        ambiguous: items still ambiguous (a read failed, or a key found twice).
        in_flight: items marked `sending` with no outcome: rerun with the input
            and `reconcile=True`.
    """

    delivered: int = 0
    failed: int = 0
    ambiguous: int = 0
    in_flight: int = 0

    @property
    def ok(self) -> bool:
        """Nothing left uncertain."""
        return self.ambiguous == 0 and self.in_flight == 0


def _open_items(path: str) -> tuple[dict[str, CheckpointLine], int | None]:
    """The last line of every item not yet final, its `at` that of the item's
    first mark since it was last settled (when it may first have been sent: its
    outcome line comes after its attempts, which can be minutes later); and the
    last clock offset."""
    decode = msgspec.json.Decoder(CheckpointLine).decode
    last: dict[str, CheckpointLine] = {}
    first_at: dict[str, int] = {}
    offset: int | None = None
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise CheckpointError(
            f"cannot read checkpoint {path!r}: {exc.strerror}"
        ) from None
    with handle:
        for raw in handle:
            if not raw.endswith(b"\n"):
                continue  # a torn last line: its item has a `sending` line
            try:
                line = decode(raw)
            except (msgspec.DecodeError, msgspec.ValidationError):
                continue
            if line.status == CLOCK:
                offset = line.offset
            elif line.status == RUN:
                continue
            elif line.status in (SENDING, _AMBIGUOUS):
                last[line.key] = line
                first_at.setdefault(line.key, line.at)
            else:
                last.pop(line.key, None)
                first_at.pop(line.key, None)
    return {k: _replace(x, at=first_at[k]) for k, x in last.items()}, offset


def _locked(path: str | os.PathLike[str]) -> Checkpoint:
    """The existing checkpoint, locked: no batch runs on it meanwhile."""
    if not os.path.isfile(path):
        raise CheckpointError(f"no checkpoint at {os.fspath(path)!r}")
    return Checkpoint.opened(path)


async def settle_checkpoint(
    wire: MessageWire,
    path: str | os.PathLike[str],
    *,
    lookback: float = 300.0,
    echoes: EchoStore | RedisEchoStore | None = None,
) -> SettleReport:
    """Turn the checkpoint's ambiguous items into delivered or failed, sending
    nothing (see the module docstring).

    Raises:
        CheckpointError: the file is not a checkpoint, is in use, or cannot be
            read or written.
    """
    checkpoint = _locked(path)
    report = SettleReport()
    try:
        items, offset = _open_items(checkpoint.path)
        reconciler = Reconciler(wire, BatchSettings(reconcile_lookback=lookback))
        for line in items.values():
            await _settle_one(checkpoint, reconciler, line, offset, report, echoes)
    finally:
        checkpoint.close_now()
    return report


async def _settle_one(
    checkpoint: Checkpoint,
    reconciler: Reconciler,
    line: CheckpointLine,
    offset: int | None,
    report: SettleReport,
    echoes: EchoStore | RedisEchoStore | None,
) -> None:
    conversation = line.conversation
    if line.status == SENDING or conversation is None:
        report.in_flight += 1
        return
    carried = line.sent_key or line.key
    found: Message | KommunicateError | str | None = None
    if echoes is not None:  # one look, no wait: the send was long ago
        seen = await echoes.wait_for([(conversation, carried)], 0.0)
        found = seen.get((conversation, carried))
    if found is None:
        # From `lookback` before its first mark, by the server's clock if known.
        since = reconciler.since_earlier(Uncertain(line.at + (offset or 0), None))
        found = await reconciler.find(
            OutgoingMessage(conversation, "-"), carried, since
        )
    if isinstance(found, KommunicateError):
        report.ambiguous += 1
        return
    if found is None:
        status, message_key, error = "failed", None, "settled: not in the conversation"
        report.failed += 1
    else:
        status, error = "delivered", None
        message_key = found if isinstance(found, str) else found.key
        report.delivered += 1
    await checkpoint.finish(
        CheckpointLine(
            line.key,
            status,
            line.index,
            now_ms(),
            message_key,
            error,
            line.attempts,
            conversation=conversation,
            sent_key=line.sent_key,
        )
    )
