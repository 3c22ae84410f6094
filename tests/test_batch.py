"""Batch pieces without a server: options, dedupe keys, checkpoints, pacing."""

from __future__ import annotations

import re
from array import array
from typing import TYPE_CHECKING

import msgspec
import pytest

import kommunicate_async._batch.pacing as pacing
from kommunicate_async import CheckpointError, InvalidRequestError
from kommunicate_async._batch.batch import BatchSettings, derive_dedupe_key
from kommunicate_async._batch.checkpoint import (
    Checkpoint,
    CheckpointLine,
    KeySet,
    Uncertain,
    key_hash,
)
from kommunicate_async.models.batch import (
    BatchReport,
    ItemResult,
    ItemStatus,
    OutgoingMessage,
)

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.parametrize(
    "kwargs",
    [
        {"concurrency": 0},
        {"concurrency": True},
        {"rate_limit": 0},
        {"rate_limit": "fast"},
        {"shard": (2, 2)},
        {"shard": (-1, 2)},
        {"max_attempts": 0},
        {"concurency": 8},  # a typo is an error, not a silently ignored option
    ],
)
def test_bad_options(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidRequestError):
        BatchSettings.from_options(kwargs, max_attempts=3)  # type: ignore[arg-type]


def test_options_defaults_and_none() -> None:
    settings = BatchSettings.from_options({"rate_limit": None}, max_attempts=4)
    assert (settings.concurrency, settings.rate_limit, settings.max_attempts) == (
        32,
        None,
        4,
    )
    assert (
        BatchSettings.from_options({"max_attempts": 2}, max_attempts=4).max_attempts
        == 2
    )


def test_derived_keys_are_stable_and_distinguish_repeats() -> None:
    item = OutgoingMessage(5, "hello", "bot")
    assert derive_dedupe_key(0, item) == derive_dedupe_key(
        0, OutgoingMessage(5, "hello", "bot")
    )
    assert derive_dedupe_key(0, item) != derive_dedupe_key(
        1, item
    )  # the same text twice
    assert len(derive_dedupe_key(0, item)) == 24


def test_outgoing_message_round_trips_as_a_jsonl_line() -> None:
    line = b'{"conversation":"c1","text":"hi","metadata":{"a":[1]},"dedupe_key":"k"}'
    item = msgspec.json.decode(line, type=OutgoingMessage)
    assert item == OutgoingMessage("c1", "hi", metadata={"a": [1]}, dedupe_key="k")


def test_key_set() -> None:
    keys = KeySet(array("Q", [key_hash("b"), key_hash("a")]))
    assert key_hash("a") in keys and key_hash("c") not in keys and "a" not in keys
    assert len(keys) == 2


async def test_checkpoint_load_keeps_the_last_word_per_key(tmp_path: Path) -> None:
    path = tmp_path / "cp.jsonl"
    lines = [
        CheckpointLine("done", "sending", 0, 1),
        CheckpointLine("done", "delivered", 0, 2, "5-x", None, 1),
        CheckpointLine("gone", "sending", 1, 3),
        CheckpointLine("gone", "failed", 1, 4, None, "APIError: no", 1),
        CheckpointLine("maybe", "sending", 2, 5),
        CheckpointLine("crash", "sending", 3, 6),
        CheckpointLine("maybe", "ambiguous", 2, 7, None, "ServerError", 1),
        CheckpointLine("later", "ambiguous", 4, 8),
        CheckpointLine("later", "delivered", 4, 9, "5-y"),
    ]
    path.write_bytes(
        b"".join(msgspec.json.encode(x) + b"\n" for x in lines) + b'{"key":"torn","sta'
    )
    checkpoint = Checkpoint.opened(path)
    try:
        assert (
            key_hash("done") in checkpoint.delivered
            and key_hash("later") in checkpoint.delivered
        )
        uncertain = {h: mark.at for h, mark in checkpoint.uncertain.items()}
        torn_at = uncertain.pop(key_hash("torn"))  # the torn line: in flight
        # "maybe" from its `sending` line (5), not its later outcome line (7):
        # when it may first have been sent is where a rerun reconciles from.
        assert uncertain == {key_hash("maybe"): 5, key_hash("crash"): 6}
        assert torn_at > 10**12 and checkpoint.torn == '{"key":"torn","sta'
        assert not checkpoint.content_keys  # written before content keys
        assert await checkpoint.begin("new", 5) == "new"
    finally:
        checkpoint.close_now()
        checkpoint.close_now()
    # The torn fragment stays on a line of its own: nothing of ours is glued on.
    tail = path.read_bytes().split(b'{"key":"torn","sta', 1)[1]
    assert tail.startswith(b'\n{"key":"","status":"run"')
    assert re.search(
        rb'\n\{"key":"new","status":"sending","index":5,"at":\d+\}\n$', tail
    )


def test_checkpoint_errors_are_typed(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not a regular file"):
        Checkpoint.opened(tmp_path)  # a directory


def test_report_counts() -> None:
    report = BatchReport()
    item = OutgoingMessage(1, "x")
    report.add(ItemResult(0, item, ItemStatus.DELIVERED, "k", None, 1))
    report.add(ItemResult(1, item, ItemStatus.FAILED, None, None, 3))
    report.add(ItemResult(2, item, ItemStatus.AMBIGUOUS, None, None, 1))
    assert (
        report.total,
        report.delivered,
        report.failed,
        report.ambiguous,
        report.attempts,
    ) == (3, 1, 1, 1, 5)
    assert [r.index for r in report.problems] == [1, 2] and not report.ok


async def test_pacer_spaces_starts() -> None:
    clock = [100.0]
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    pacer = pacing.Pacer(10, clock=lambda: clock[0], sleep=fake_sleep)
    for _ in range(4):
        await pacer.wait()
    assert slept == pytest.approx([0.1, 0.2, 0.3])
    clock[0] += 5  # idle for a while: no burst credit is banked
    await pacer.wait()
    assert len(slept) == 3
    with pytest.raises(ValueError, match="rate"):
        pacing.Pacer(0)


async def test_sending_lines_are_the_same_json_a_checkpoint_line_makes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cp.jsonl"
    checkpoint = Checkpoint.opened(path)
    assert await checkpoint.begin('odd "key"\n', 7) == "new"
    await checkpoint.finish(CheckpointLine("k2", "delivered", 8, 1, "5-x"))
    checkpoint.close_now()
    run, first, second = path.read_bytes().splitlines()
    assert msgspec.json.decode(run, type=CheckpointLine).status == "run"
    line = msgspec.json.decode(first, type=CheckpointLine)
    assert (line.key, line.status, line.index) == ('odd "key"\n', "sending", 7)
    assert msgspec.json.decode(second, type=CheckpointLine).message_key == "5-x"
    reread = Checkpoint.opened(path)
    reread.close_now()
    assert reread.uncertain == {key_hash('odd "key"\n'): Uncertain(line.at, None)}
    assert reread.content_keys


async def test_a_torn_key_cut_inside_an_escape_names_no_item(tmp_path: Path) -> None:
    """#18: a line cut inside its key (here inside a \\u escape) is read as naming
    no item; the earlier complete `sending` line keeps its item in flight."""
    path = tmp_path / "cp.jsonl"
    path.write_bytes(
        b'{"key":"k0","status":"sending","index":0,"at":5}\n{"key":"\\u12"'
    )
    checkpoint = Checkpoint.opened(path)
    await checkpoint.close()
    assert checkpoint.uncertain == {key_hash("k0"): Uncertain(5, None)}
    assert checkpoint.torn == '{"key":"\\u12"'
