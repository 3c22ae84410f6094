"""A loopback FakeKommunicate and helpers for the batch durability scenarios."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import msgspec
import pytest

from kommunicate_async import KommunicateSession, Retries, Timeouts
from kommunicate_async.testing import FakeKommunicate

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from kommunicate_async._batch.checkpoint import CheckpointLine

SEND = "POST /rest/ws/message/v2/send"
LIST = "GET /rest/ws/message/list"


@pytest.fixture
async def fake() -> AsyncIterator[FakeKommunicate]:
    async with FakeKommunicate() as server:
        yield server


def session(
    fake: FakeKommunicate, *, attempt: float = 5, total: float = 20, **kw: object
) -> KommunicateSession:
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
