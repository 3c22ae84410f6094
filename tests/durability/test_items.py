"""Per-item isolation, fatal errors that stop early, and keys that do not depend on
the input's order (issue #10)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from kommunicate_async import (
    AuthenticationError,
    BatchReport,
    BatchStoppedError,
    CoordinationError,
    InvalidRequestError,
    ItemStatus,
    OutgoingMessage,
)
from kommunicate_async._batch.options import content_key
from tests.durability.conftest import SEND, session_on, stored

if TYPE_CHECKING:
    from pathlib import Path

    from kommunicate_async.testing import FakeKommunicate


def _cyclic() -> dict[str, Any]:
    loop: dict[str, Any] = {}
    loop["me"] = loop
    return loop


def _deep(levels: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(levels):
        value = [value]
    return value


BAD = {
    10: OutgoingMessage(0, "surrogate \udc00 text"),
    20: OutgoingMessage(0, "ok", metadata={"loop": _cyclic()}),
    30: OutgoingMessage(0, "ok", metadata={"deep": _deep(10_000)}),
    40: OutgoingMessage(0, "ok", sender="bad\r\nsender"),
}


@pytest.mark.parametrize("checkpoint", [False, True], ids=["plain", "checkpoint"])
async def test_one_bad_item_never_ends_the_batch(
    fake: FakeKommunicate, tmp_path: Path, checkpoint: bool
) -> None:
    # Before: UnicodeEncodeError / RecursionError out of iter_send after 44-47 of
    # 100 results, 7 sends never reported.
    async with session_on(fake) as km:
        cid = (await km.conversations.create(["u"])).id
        items = [
            OutgoingMessage(cid, BAD[i].text, BAD[i].sender, BAD[i].metadata)
            if i in BAD
            else OutgoingMessage(cid, f"m{i}")
            for i in range(100)
        ]
        path = tmp_path / "cp.jsonl" if checkpoint else None
        results = [r async for r in km.messages.iter_send(items, checkpoint=path)]
    assert sorted(r.index for r in results) == list(range(100))
    failed = {r.index: r for r in results if r.status is ItemStatus.FAILED}
    assert set(failed) == set(BAD)
    assert all(isinstance(r.error, InvalidRequestError) for r in failed.values())
    assert len(fake.messages(cid)) == 96


async def test_a_dedupe_key_that_is_not_a_str_fails_its_item_alone(
    fake: FakeKommunicate, tmp_path: Path
) -> None:
    # It travels as a metadata value, which the wire wants a str: never sent as 7.
    not_a_str: Any = 7
    async with session_on(fake) as km:
        cid = (await km.conversations.create(["u"])).id
        items = [
            OutgoingMessage(cid, "a", dedupe_key=not_a_str),
            OutgoingMessage(cid, "b", dedupe_key="key-b"),
        ]
        path = tmp_path / "cp.jsonl"
        results = {
            r.index: r async for r in km.messages.iter_send(items, checkpoint=path)
        }
    assert results[0].status is ItemStatus.FAILED and results[0].attempts == 0
    assert isinstance(results[0].error, InvalidRequestError)
    assert str(results[0].error) == "batch item 0: dedupe_key must be a str, not int"
    assert results[1].status is ItemStatus.DELIVERED
    assert [(m.text, m.metadata) for m in fake.messages(cid)] == [
        ("b", {"kmDedupeKey": "key-b"})
    ]


async def test_a_revoked_key_stops_after_the_first_answer(
    fake: FakeKommunicate, tmp_path: Path
) -> None:
    # Before: a million-line campaign made a million 401s, and the CLI exited 5.
    async with session_on(fake) as km:
        cid = (await km.conversations.create(["u"])).id
    path = tmp_path / "cp.jsonl"
    items = (OutgoingMessage(cid, f"m{i}") for i in range(1_000_000))
    async with session_on(fake, api_key="a-revoked-key") as km:
        with pytest.raises(BatchStoppedError) as caught:
            await km.messages.send_many(items, checkpoint=path, concurrency=8)
    stop = caught.value
    assert isinstance(stop.reason, AuthenticationError)
    assert isinstance(stop.report, BatchReport)
    assert stop.next_index <= 16
    assert len(fake.requests_to(SEND)) <= 8  # the ones already in flight
    not_sent = [r for r in stop.report.problems if r.attempts == 0]
    assert all(r.error is stop for r in not_sent)  # "not attempted", and why


async def test_content_keys_do_not_depend_on_the_input_order(
    fake: FakeKommunicate, tmp_path: Path
) -> None:
    async with session_on(fake) as km:
        cid = (await km.conversations.create(["u"])).id
        items = [OutgoingMessage(cid, f"m{i}") for i in range(10)]
        items += [OutgoingMessage(cid, "same"), OutgoingMessage(cid, "same")]
        path = tmp_path / "cp.jsonl"
        first = await km.messages.send_many(items[:6], checkpoint=path)
        # The rest of the campaign, reordered and mixed with what was sent:
        again = await km.messages.send_many(list(reversed(items)), checkpoint=path)
    assert (first.delivered, again.delivered, again.skipped) == (6, 6, 6)
    keys = stored(fake, [cid])
    assert len(keys) == 12 and set(keys.values()) == {1}  # both "same" kept
    same = OutgoingMessage(cid, "same")
    assert {content_key(same, 1), content_key(same, 2)} <= set(keys)


def test_the_content_key_rule() -> None:
    a = OutgoingMessage(7, "hi", "bot", {"b": 1, "a": [1, 2]})
    b = OutgoingMessage(7, "hi", "bot", {"a": [1, 2], "b": 1})  # keys reordered
    assert content_key(a, 1) == content_key(b, 1)
    assert len(content_key(a, 1)) == 24 and content_key(a, 3).endswith("-3")
    assert content_key(a, 1) != content_key(OutgoingMessage(7, "hi", "agent"), 1)


def test_content_keys_stay_those_earlier_versions_wrote() -> None:
    """A checkpoint written since #10 holds these keys: a rerun must derive the
    same ones, or it would send its delivered items again."""
    assert content_key(OutgoingMessage(7, "hi"), 1) == "d17f185a426167bdd119bfbf"
    item = OutgoingMessage(
        "conv-x", "h\u00e9llo \ud800", "agent", {"b": [1, 2], "a": "x"}
    )
    assert content_key(item, 2) == "0eb43193c6ec3bb374fd9eb7-2"


class _BrokenLimiter:
    """A shared limiter whose store went away after `good` sends."""

    def __init__(self, good: int) -> None:
        self.good = good

    async def wait(self) -> None:
        if self.good <= 0:
            raise CoordinationError("redis unreachable (test)")
        self.good -= 1

    async def pause(self, seconds: float) -> None:
        self.paused = seconds


async def test_a_failing_shared_limiter_stops_the_batch_and_reports_every_item(
    fake: FakeKommunicate,
) -> None:
    # Before: the limiter's CoordinationError became one item's "unexpected"
    # ambiguous result and the batch went on without its shared limit.
    async with session_on(fake) as km:
        cid = (await km.conversations.create(["u"])).id
        items = [OutgoingMessage(cid, f"m{i}") for i in range(20)]
        with pytest.raises(BatchStoppedError) as caught:
            await km.messages.send_many(
                items, rate_limit=_BrokenLimiter(5), concurrency=1
            )
    stop = caught.value
    assert isinstance(stop.reason, CoordinationError)
    report = stop.report
    assert isinstance(report, BatchReport)
    assert report.delivered == 5
    assert len(fake.requests_to(SEND)) == 5
    unsent = [r for r in report.problems if r.status is ItemStatus.FAILED]
    assert unsent and all(r.attempts == 0 for r in unsent)
    assert all(r.status is not ItemStatus.AMBIGUOUS for r in report.problems)
