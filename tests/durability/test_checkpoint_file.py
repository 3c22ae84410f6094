"""One writer per checkpoint, torn lines, failed writes (issue #10)."""

from __future__ import annotations

import asyncio
import errno
import os
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import msgspec
import pytest

from kommunicate_async import (
    BatchStoppedError,
    CheckpointError,
    ItemStatus,
    OutgoingMessage,
)
from kommunicate_async._batch.checkpoint import Checkpoint, CheckpointLine
from tests.durability.conftest import SEND, session_on, stored, write_lines

if TYPE_CHECKING:
    from pathlib import Path

    from kommunicate_async.testing import FakeKommunicate

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_a_second_writer_is_refused_with_the_holders_pid(tmp_path: Path) -> None:
    path = tmp_path / "cp.jsonl"
    first = Checkpoint.opened(path)
    try:
        with pytest.raises(CheckpointError, match=rf"in use by process {os.getpid()}"):
            Checkpoint.opened(path)
    finally:
        first.close_now()
    Checkpoint.opened(path).close_now()  # free again once the first run closed it


@pytest.mark.slow
async def test_two_processes_on_one_file_never_both_send(
    fake: FakeKommunicate, tmp_path: Path
) -> None:
    # Before: a retried job overlapping its first run sent all 300 items twice.
    path = tmp_path / "cp.jsonl"
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        textwrap.dedent(
            """
            import sys, time
            from kommunicate_async._batch.checkpoint import Checkpoint
            checkpoint = Checkpoint.opened(sys.argv[1])
            print("holding", flush=True)
            time.sleep(30)
            """
        ),
        str(path),
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        assert holder.stdout is not None
        assert (
            await asyncio.wait_for(holder.stdout.readline(), 20)
        ).strip() == b"holding"
        async with session_on(fake) as km:
            cid = (await km.conversations.create(["u"])).id
            items = [OutgoingMessage(cid, f"m{i}") for i in range(300)]
            with pytest.raises(CheckpointError, match=rf"process {holder.pid} on "):
                await km.messages.send_many(items, checkpoint=path)
        assert fake.requests_to(SEND) == []
    finally:
        holder.kill()
        await holder.wait()


async def test_a_torn_last_line_is_reconciled_not_lost(
    fake: FakeKommunicate, tmp_path: Path
) -> None:
    # Before: the torn line's item was taken as unsent, and the next line was glued
    # onto it (lost too).
    async with session_on(fake) as km:
        cid = (await km.conversations.create(["u"])).id
        fake.state.send(fake.conversation(cid), "bot", "a", {"kmDedupeKey": "ka"})
        path = tmp_path / "cp.jsonl"
        write_lines(
            path,
            CheckpointLine("", "run", -1, 1, pid=1, host="h", keys="content"),
            tail=b'{"key":"ka","status":"send',  # killed mid-write
        )
        items = [
            OutgoingMessage(cid, "a", dedupe_key="ka"),
            OutgoingMessage(cid, "b", dedupe_key="kb"),
        ]
        first = await km.messages.send_many(items, checkpoint=path, reconcile=True)
        again = await km.messages.send_many(items, checkpoint=path, reconcile=True)
    assert (first.delivered, again.skipped) == (2, 2)
    assert stored(fake, [cid]) == {"ka": 1, "kb": 1}
    assert len(fake.requests_to(SEND)) == 1  # only kb was ever sent


async def test_a_torn_outcome_line_resumes_from_its_sending_line(
    fake: FakeKommunicate, tmp_path: Path
) -> None:
    """#18 defect 4. Before: a last line cut inside its key ("{"ke") made every
    rerun refuse ("check that item by hand") and send nothing. A torn line is either
    the `sending` line of an item never sent (the send follows the whole write) or
    the outcome of an item whose complete `sending` line precedes it, already in
    flight: reconciled, never assumed either way."""
    path = tmp_path / "cp.jsonl"
    async with session_on(fake) as km:
        cid = (await km.conversations.create(["u"])).id
        group = fake.conversation(cid)
        fake.state.send(group, "bot", "a", {"kmDedupeKey": "k0"})  # k0 landed
        path.write_bytes(
            b'{"key":"k0","status":"sending","index":0,"at":1}\n'
            b'{"key":"k1","status":"sending","index":1,"at":1}\n{"ke'
        )
        items = [
            OutgoingMessage(cid, "a", dedupe_key="k0"),
            OutgoingMessage(cid, "b", dedupe_key="k1"),
            OutgoingMessage(cid, "c", dedupe_key="k2"),
        ]
        report = await km.messages.send_many(
            items, checkpoint=path, reconcile=True, reconcile_lookback=10**9
        )
    assert report.delivered == 3 and report.ambiguous == 0
    assert stored(fake, [cid]) == {"k0": 1, "k1": 1, "k2": 1}
    assert len(fake.requests_to(SEND)) == 2  # k1 and k2; k0 was found
    assert b'\n{"ke\n' in path.read_bytes()  # our lines start on a line of their own


async def test_a_failed_write_leaves_no_partial_line_and_a_rerun_resumes(
    fake: FakeKommunicate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """#18 defect 4. Before: a full disk cut the last line inside its key and
    every later rerun refused. Now the library truncates its own partial line."""
    real_write = os.write
    writes = 0

    def filling(fd: int, data: bytes | memoryview) -> int:
        nonlocal writes
        writes += 1
        if writes == 12:  # a short write that ends inside the first key...
            return real_write(fd, memoryview(data)[:12])
        if writes > 12:  # ...and then the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    path = tmp_path / "cp.jsonl"
    monkeypatch.setattr("kommunicate_async._batch.checkpoint.os.write", filling)
    async with session_on(fake) as km:
        cid = (await km.conversations.create(["u"])).id
        items = [OutgoingMessage(cid, f"m{i}") for i in range(40)]
        with pytest.raises(BatchStoppedError):
            await km.messages.send_many(items, checkpoint=path, concurrency=1)
        assert path.read_bytes().endswith(b"\n")  # no partial line left behind
        monkeypatch.undo()
        again = await km.messages.send_many(items, checkpoint=path, reconcile=True)
    assert again.ambiguous == again.failed == 0
    assert again.delivered + again.skipped == 40
    keys = stored(fake, [cid])
    assert len(keys) == 40 and set(keys.values()) == {1}  # 0 lost, 0 doubled


@pytest.mark.parametrize("target", ["/dev/full", "/dev/null"])
def test_a_non_regular_file_is_refused(target: str) -> None:
    # Before: /dev/full read zeros until MemoryError.
    with pytest.raises(CheckpointError, match="not a regular file"):
        Checkpoint.opened(target)


async def test_a_full_disk_stops_the_batch_and_loses_no_result(
    fake: FakeKommunicate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: a raw OSError with 7 sends unreported.
    real_write = os.write
    writes = 0

    def filling(fd: int, data: bytes | memoryview) -> int:
        nonlocal writes
        writes += 1
        if writes > 20:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr("kommunicate_async._batch.checkpoint.os.write", filling)
    results = []
    async with session_on(fake) as km:
        cid = (await km.conversations.create(["u"])).id
        items = [OutgoingMessage(cid, f"m{i}") for i in range(200)]
        with pytest.raises(BatchStoppedError) as caught:
            async for result in km.messages.iter_send(
                items, checkpoint=tmp_path / "cp.jsonl", concurrency=8
            ):
                results.append(result)  # noqa: PERF401 - kept as the error hits
    assert isinstance(caught.value.reason, CheckpointError)
    assert "No space left" in str(caught.value.reason)
    sent = {m.metadata["kmDedupeKey"] for m in fake.messages(cid)}
    reported = {r.item.dedupe_key for r in results if r.status is ItemStatus.DELIVERED}
    assert sent == reported  # every send that happened was reported
    assert len(sent) < 200 and caught.value.next_index < 200


async def test_short_writes_are_finished(
    fake: FakeKommunicate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write

    def halves(fd: int, data: bytes | memoryview) -> int:
        view = memoryview(data)
        return real_write(fd, view[: max(1, len(view) // 2)])

    monkeypatch.setattr("kommunicate_async._batch.checkpoint.os.write", halves)
    path = tmp_path / "cp.jsonl"
    async with session_on(fake) as km:
        cid = (await km.conversations.create(["u"])).id
        items = [OutgoingMessage(cid, f"m{i}") for i in range(20)]
        await km.messages.send_many(items, checkpoint=path)
        monkeypatch.undo()
        again = await km.messages.send_many(items, checkpoint=path)
    assert again.skipped == 20  # every line was whole


async def test_a_failed_write_is_cut_back_and_its_outcomes_wait_for_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """#18 defect 4, at the file: a write that fails half-way leaves the file as it
    was; the outcome lines it carried are written at close, the `sending` line of
    the item it was for is not (that item is not sent)."""
    path = tmp_path / "cp.jsonl"
    checkpoint = Checkpoint.opened(path)
    assert await checkpoint.begin("k1", 0) == "new"
    await checkpoint.finish(CheckpointLine("k1", "delivered", 0, 1, "5-x", None, 1))
    before = path.read_bytes()
    real_write = os.write

    def half_then_full(fd: int, data: bytes | memoryview) -> int:
        if len(data) > 20:
            return real_write(fd, memoryview(data)[:20])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("kommunicate_async._batch.checkpoint.os.write", half_then_full)
    with pytest.raises(CheckpointError, match="No space left"):
        await checkpoint.begin("k2", 1)
    assert path.read_bytes() == before  # the 20 bytes written were cut back off
    monkeypatch.undo()
    await checkpoint.close()
    lines = [
        msgspec.json.decode(x, type=CheckpointLine)
        for x in path.read_bytes().splitlines()
    ]
    assert [(x.key, x.status) for x in lines] == [
        ("", "run"),
        ("k1", "sending"),
        ("k1", "delivered"),
    ]


async def test_an_item_taken_but_not_sent_keeps_an_earlier_runs_mark(
    fake: FakeKommunicate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An earlier run marked k1 in flight; this run cannot mark it (a full disk),
    so it does not send it, and must not record it `failed` either: a later rerun
    would then send it again without looking."""
    path = tmp_path / "cp.jsonl"
    write_lines(path, CheckpointLine("k1", "sending", 0, 1))
    real_write = os.write
    full = True

    def filling(fd: int, data: bytes | memoryview) -> int:
        if full and b'"status":"run"' not in data:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr("kommunicate_async._batch.checkpoint.os.write", filling)
    async with session_on(fake) as km:
        cid = (await km.conversations.create(["u"])).id
        items = [OutgoingMessage(cid, "a", dedupe_key="k1")]
        with pytest.raises(BatchStoppedError):
            async for result in km.messages.iter_send(items, checkpoint=path):
                assert result.status is ItemStatus.FAILED and result.attempts == 0
                full = False  # the disk has room again before the last lines
        again = await km.messages.send_many(items, checkpoint=path)
    assert b'"status":"failed"' not in path.read_bytes()
    assert again.ambiguous == 1  # still possibly sent by the first run: not re-sent
    assert fake.requests_to(SEND) == []
