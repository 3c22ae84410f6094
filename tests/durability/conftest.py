"""Helpers for the batch durability scenarios (on the root's loopback `fake`)."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import msgspec

from kommunicate_async import KommunicateSession, Retries, Timeouts

if TYPE_CHECKING:
    from pathlib import Path

    from kommunicate_async._batch.checkpoint import CheckpointLine
    from kommunicate_async.testing import FakeKommunicate

SEND = "POST /rest/ws/message/v2/send"
LIST = "GET /rest/ws/message/list"


def session_on(
    fake: FakeKommunicate, *, attempt: float = 5, total: float = 20, **kw: object
) -> KommunicateSession:
    """A session on `fake` with bounded timeouts and short back-offs."""
    return fake.session(
        timeout=Timeouts(connect=2, attempt=attempt, total=total),
        retries=Retries(backoff_base=0.01),
        **kw,
    )


def stored(fake: FakeKommunicate, ids: list[int]) -> Counter[str]:
    """Dedupe key -> how many stored messages carry it."""
    return Counter(
        m.metadata["kmDedupeKey"]
        for c in ids
        for m in fake.messages(c)
        if "kmDedupeKey" in m.metadata
    )


def write_lines(path: Path, *lines: CheckpointLine, tail: bytes = b"") -> None:
    path.write_bytes(b"".join(msgspec.json.encode(x) + b"\n" for x in lines) + tail)
