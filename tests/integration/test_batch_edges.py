"""The batch sender's rarer paths: earlier-run doubts, failed lookups, odd replies."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import msgspec
import pytest

from kommunicate_async import (
    CheckpointError,
    InvalidRequestError,
    ItemStatus,
    KommunicateSession,
    OutgoingMessage,
    ResponseValidationError,
    ServerError,
    Timeouts,
)
from kommunicate_async._batch.batch import derive_dedupe_key
from kommunicate_async._batch.checkpoint import CheckpointLine
from kommunicate_async.testing import Fault, RouteFaults

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from kommunicate_async.testing import FakeKommunicate

SEND = "POST /rest/ws/message/v2/send"
LIST = "GET /rest/ws/message/list"


def mark_in_flight(path: Path, key: str, index: int = 0) -> None:
    """A checkpoint as a crash leaves it: `sending` and nothing after."""
    line = CheckpointLine(key, "sending", index, 1_700_000_000_000)
    path.write_bytes(msgspec.json.encode(line) + b"\n")


async def test_earlier_doubt_settled_by_reconcile(
    fake: FakeKommunicate, session: KommunicateSession, tmp_path: Path
) -> None:
    chat = await session.conversations.create(["u"])
    landed = OutgoingMessage(chat.id, "landed", dedupe_key="k-landed")
    lost = OutgoingMessage(chat.id, "lost", dedupe_key="k-lost")
    await session.messages.send(
        chat, "landed", metadata={"kmDedupeKey": "k-landed"}
    )  # the crash
    checkpoint = tmp_path / "cp.jsonl"
    mark_in_flight(checkpoint, "k-landed")
    checkpoint.write_bytes(
        checkpoint.read_bytes()
        + msgspec.json.encode(CheckpointLine("k-lost", "sending", 1, 1))
        + b"\n"
    )
    before = len(fake.requests_to(SEND))
    cautious = await session.messages.send_many([landed, lost], checkpoint=checkpoint)
    assert cautious.ambiguous == 2 and len(fake.requests_to(SEND)) == before
    results = {
        r.item.text: r
        async for r in session.messages.iter_send(
            [landed, lost], checkpoint=checkpoint, reconcile=True, settle=0.1
        )
    }
    assert (results["landed"].status, results["landed"].attempts) == (
        ItemStatus.DELIVERED,
        0,
    )
    assert (results["lost"].status, results["lost"].attempts) == (
        ItemStatus.DELIVERED,
        1,
    )
    assert sorted(m.text for m in fake.messages(chat.id)) == ["landed", "lost"]


async def test_a_failed_lookup_leaves_the_item_ambiguous(
    fake: FakeKommunicate, session: KommunicateSession, tmp_path: Path
) -> None:
    chat = await session.conversations.create(["u"])
    fake.faults.routes[LIST] = RouteFaults(error_500=1.0)
    checkpoint = tmp_path / "cp.jsonl"
    item = OutgoingMessage(chat.id, "x", dedupe_key="k")
    mark_in_flight(checkpoint, "k")
    (earlier,) = [
        r
        async for r in session.messages.iter_send(
            [item], checkpoint=checkpoint, reconcile=True, settle=0.1
        )
    ]
    assert earlier.status is ItemStatus.AMBIGUOUS and isinstance(
        earlier.error, ServerError
    )

    fake.faults.script(SEND, Fault.RESET_AFTER)
    (now,) = [
        r
        async for r in session.messages.iter_send(
            [OutgoingMessage(chat.id, "y")], reconcile=True, settle=0.1
        )
    ]
    assert now.status is ItemStatus.AMBIGUOUS and now.attempts == 1
    assert fake.faults.injected[Fault.ERROR_500] >= 2


async def test_a_success_without_a_key_is_ambiguous(
    fake: FakeKommunicate, session: KommunicateSession
) -> None:
    chat = await session.conversations.create(["u"])
    fake.bare = False
    fake.faults.script(SEND, Fault.TRUNCATE)  # half an envelope: unreadable 200
    (result,) = [
        r async for r in session.messages.iter_send([OutgoingMessage(chat.id, "x")])
    ]
    assert result.status is ItemStatus.AMBIGUOUS
    assert isinstance(result.error, ResponseValidationError)


async def test_bad_shard_and_unusable_checkpoint(
    session: KommunicateSession, tmp_path: Path
) -> None:
    with pytest.raises(InvalidRequestError, match="shard"):
        session.messages.iter_send([], shard="1/2")  # type: ignore[arg-type]
    with pytest.raises(CheckpointError, match="not a regular file"):
        await session.messages.send_many([OutgoingMessage(1, "x")], checkpoint=tmp_path)
    with pytest.raises(CheckpointError, match="not a regular file"):  # it read zeros
        await session.messages.send_many(
            [OutgoingMessage(1, "x")], checkpoint="/dev/full"
        )


async def test_nested_exception_groups_from_the_input_unwrap(
    session: KommunicateSession,
) -> None:
    def broken() -> Iterator[OutgoingMessage]:
        rows: list[OutgoingMessage] = []
        if not rows:  # a reader that fails on its first row
            raise ExceptionGroup("reader", [ValueError("bad row 7")])
        yield from rows

    with pytest.raises(ValueError, match="bad row 7"):
        await session.messages.send_many(broken())


async def test_iterating_past_the_end_keeps_stopping(
    session: KommunicateSession,
) -> None:
    results = session.messages.iter_send([])
    assert [r async for r in results] == []
    with pytest.raises(StopAsyncIteration):
        await anext(results)
    assert results.progress().done == 0


@pytest.mark.slow
async def test_a_cancelled_consumer_stops_the_workers(
    fake: FakeKommunicate, session: KommunicateSession
) -> None:
    chat = await session.conversations.create(["u"])
    fake.faults.routes[SEND] = RouteFaults(delay=1.0, delay_seconds=0.2)

    def endless() -> Iterator[OutgoingMessage]:
        i = 0
        while True:
            i += 1
            yield OutgoingMessage(chat.id, f"m{i}")

    async def consume() -> None:
        async for _ in session.messages.iter_send(endless(), concurrency=4):
            pass

    with anyio.move_on_after(0.5):
        await consume()
    await anyio.sleep(0.5)  # let the cancelled workers unwind
    sent = len(fake.requests_to(SEND))
    await anyio.sleep(0.5)
    assert len(fake.requests_to(SEND)) == sent


def test_derived_keys_do_not_depend_on_metadata() -> None:
    a = OutgoingMessage(1, "x", metadata={"a": 1})
    assert derive_dedupe_key(3, a) == derive_dedupe_key(3, OutgoingMessage(1, "x"))


async def test_never_more_sends_in_flight_than_the_pool_has_connections(
    fake: FakeKommunicate,
) -> None:
    """#18: `concurrency` above `max_connections` means the pool's size. Before,
    the extra workers queued inside aiohttp's pool while their attempt timer ran,
    and sends that never left were reported as ambiguous timeouts."""
    fake.commit_delay = 0.1
    km = fake.session(
        max_connections=2, timeout=Timeouts(connect=2, attempt=0.35, total=10)
    )
    async with km:
        cid = (await km.conversations.create(["u"])).id
        items = [OutgoingMessage(cid, f"m{i}") for i in range(16)]
        report = await km.messages.send_many(items, concurrency=16)
    assert report.delivered == 16, [str(p.error) for p in report.problems]
    sends = fake.requests_to(SEND)
    assert len(sends) == 16 and len({r.peer for r in sends}) <= 2
