"""The batch's per-item fast paths keep their meaning: the occurrence table that
numbers repeated contents, the counts `on_progress` reports, and the checkpoint's
deferred outcome lines (benchmarks/README.md, "The batch path trimmed")."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
import pytest

from kommunicate_async import ItemStatus, OutgoingMessage
from kommunicate_async._batch.checkpoint import Checkpoint, CheckpointLine
from kommunicate_async._batch.options import Occurrences, content_key
from kommunicate_async._pipeline.client import ApiClient
from kommunicate_async.testing import FakeKommunicate

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from kommunicate_async.models.batch import Progress

TABLE = 4096  # the table's first size (options._FIRST_SLOTS)


def test_occurrences_count_repeats_through_collisions_and_growth() -> None:
    seen = Occurrences()
    # Same low bits: one slot, probed past each other (odd: 0 marks a free slot).
    colliding = [1 + TABLE * k for k in range(5)]
    assert [seen.seen(v) for v in colliding] == [1] * 5
    assert [seen.seen(v) for v in colliding] == [2] * 5
    # hash() values: signed 64-bit, negative ones too.
    distinct = [hash(f"content {i}") for i in range(1, 9000)]
    assert min(distinct) < 0 < max(distinct)
    assert all(seen.seen(v) == 1 for v in distinct)  # grows twice on the way
    assert seen.seen(distinct[0]) == 2 and seen.seen(distinct[-1]) == 2
    assert [seen.seen(v) for v in colliding] == [3] * 5  # kept through the growth
    assert seen.seen(2) == 1 and seen.seen(3) == 2  # 2 and 3 count as one (| 1)
    assert seen.seen(-(2**63)) == 1 and seen.seen(2**63 - 1) == 1  # the extremes


async def test_progress_counts_each_status_once() -> None:
    """`delivered` is counted apart from the other statuses: the totals agree."""
    reports: list[Progress] = []
    async with FakeKommunicate() as fake, fake.session() as km:
        cid = (await km.conversations.create(["u"])).id
        items: list[object] = [OutgoingMessage(cid, f"m{i}") for i in range(5)]
        items[1] = OutgoingMessage(cid, "")  # empty text: failed before sending
        items[3] = "not a message"
        results = [
            r
            async for r in km.messages.iter_send(
                items,  # type: ignore[arg-type]
                concurrency=1,
                on_progress=reports.append,
            )
        ]
    assert [r.status for r in results] == [
        ItemStatus.DELIVERED,
        ItemStatus.FAILED,
        ItemStatus.DELIVERED,
        ItemStatus.FAILED,
        ItemStatus.DELIVERED,
    ]
    last = reports[-1]
    assert (last.done, last.delivered, last.failed, last.ambiguous) == (5, 3, 2, 0)
    assert last.attempts == 3


async def test_outcome_lines_follow_their_sending_lines_in_the_file(
    tmp_path: Path,
) -> None:
    """One write an item: item n's outcome goes out with item n+1's `sending`
    line, the last one at close; the file reads back as the same lines."""
    path = tmp_path / "cp.jsonl"
    async with FakeKommunicate() as fake, fake.session() as km:
        cid = (await km.conversations.create(["u"])).id
        items = [OutgoingMessage(cid, f"m{i}") for i in range(3)]
        report = await km.messages.send_many(items, checkpoint=path, concurrency=1)
    assert report.delivered == 3
    lines = [
        msgspec.json.decode(raw, type=CheckpointLine)
        for raw in path.read_bytes().splitlines()
    ]
    items_lines = [(x.key, x.status, x.index) for x in lines if x.index >= 0]
    keys = [content_key(item, 1) for item in items]
    assert items_lines == [
        (keys[0], "sending", 0),
        (keys[0], "delivered", 0),
        (keys[1], "sending", 1),
        (keys[1], "delivered", 1),
        (keys[2], "sending", 2),
        (keys[2], "delivered", 2),
    ]
    delivered = [x for x in lines if x.status == "delivered"]
    assert all(x.attempts == 1 and x.conversation == cid for x in delivered)
    assert all(x.message_key for x in delivered)
    assert sum(x.status == "clock" for x in lines) == 1  # learned, kept once
    again = Checkpoint.opened(path)
    try:
        assert len(again.delivered) == 3 and not again.uncertain
    finally:
        again.close_now()


async def test_an_unexpected_failure_is_the_items_ambiguous_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug below the send loop (not a `KommunicateError`) is that item's
    `ambiguous` result, checkpointed as such; the next items go on."""
    path = tmp_path / "cp.jsonl"
    real_call = ApiClient.call
    sends = 0

    async def second_breaks(self: ApiClient, *args: Any, **kwargs: Any) -> Any:
        nonlocal sends
        sends += 1
        if sends == 2:
            raise RuntimeError("boom")
        return await real_call(self, *args, **kwargs)

    async with FakeKommunicate() as fake, fake.session() as km:
        cid = (await km.conversations.create(["u"])).id
        monkeypatch.setattr(ApiClient, "call", second_breaks)
        items = [OutgoingMessage(cid, f"m{i}") for i in range(3)]
        results = [r async for r in km.messages.iter_send(items, checkpoint=path)]
    assert [r.status for r in results] == [
        ItemStatus.DELIVERED,
        ItemStatus.AMBIGUOUS,
        ItemStatus.DELIVERED,
    ]
    error = results[1].error
    assert error is not None and error.ambiguous
    assert str(error) == "unexpected RuntimeError: boom"
    outcome = [
        msgspec.json.decode(raw, type=CheckpointLine)
        for raw in path.read_bytes().splitlines()
        if b'"index":1,' in raw
    ]
    assert [x.status for x in outcome] == ["sending", "ambiguous"]
    assert outcome[1].error == "KommunicateError: unexpected RuntimeError: boom"


def test_occurrences_grow_from_the_common_case() -> None:
    seen = Occurrences()
    odd = [2 * i + 1 for i in range(3000)]  # the first 2,048 each in a free slot
    assert all(seen.seen(v) == 1 for v in odd)
    assert all(seen.seen(v) == 2 for v in odd)


async def test_an_input_that_breaks_ends_the_batch_after_its_results() -> None:
    """The input itself failing (not an item) surfaces after the results made."""

    def broken(cid: int) -> Iterator[OutgoingMessage]:
        yield OutgoingMessage(cid, "first")
        raise ValueError("the input broke")

    async with FakeKommunicate() as fake, fake.session() as km:
        cid = (await km.conversations.create(["u"])).id
        got: list[ItemStatus] = []
        with pytest.raises(ValueError, match="the input broke"):
            async for result in km.messages.iter_send(broken(cid), concurrency=1):
                got.append(result.status)  # noqa: PERF401 (kept until the raise)
    assert got == [ItemStatus.DELIVERED]
