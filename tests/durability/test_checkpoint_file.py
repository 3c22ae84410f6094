"""One writer per checkpoint, torn lines, failed writes (issue #10)."""

from __future__ import annotations

import asyncio
import errno
import os
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest

from kommunicate_async import (
    BatchStoppedError,
    CheckpointError,
    ItemStatus,
    OutgoingMessage,
)
from kommunicate_async._batch.checkpoint import Checkpoint, CheckpointLine
from tests.durability.conftest import SEND, session, stored, write_lines

if TYPE_CHECKING:
    from pathlib import Path

    from kommunicate_async.testing import FakeKommunicate

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_a_second_writer_is_refused_with_the_holders_pid(tmp_path: Path) -> None:
    path = tmp_path / "cp.jsonl"
    first = Checkpoint.open(path)
    try:
        with pytest.raises(CheckpointError, match=rf"in use by process {os.getpid()}"):
            Checkpoint.open(path)
    finally:
        first.close()
    Checkpoint.open(path).close()  # free again once the first run closed it


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
            checkpoint = Checkpoint.open(sys.argv[1])
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
        async with session(fake) as km:
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
    async with session(fake) as km:
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


async def test_a_torn_line_without_a_key_stops_before_sending(
    fake: FakeKommunicate, tmp_path: Path
) -> None:
    path = tmp_path / "cp.jsonl"
    path.write_bytes(b'{"key":"k0","status":"sending","index":0,"at":1}\n{"ke')
    async with session(fake) as km:
        with pytest.raises(CheckpointError, match="torn line"):
            await km.messages.send_many([OutgoingMessage(1, "x")], checkpoint=path)
    assert fake.requests_to(SEND) == []


@pytest.mark.parametrize("target", ["/dev/full", "/dev/null"])
def test_a_non_regular_file_is_refused(target: str) -> None:
    # Before: /dev/full read zeros until MemoryError.
    with pytest.raises(CheckpointError, match="not a regular file"):
        Checkpoint.open(target)


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
    async with session(fake) as km:
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
    async with session(fake) as km:
        cid = (await km.conversations.create(["u"])).id
        items = [OutgoingMessage(cid, f"m{i}") for i in range(20)]
        await km.messages.send_many(items, checkpoint=path)
        monkeypatch.undo()
        again = await km.messages.send_many(items, checkpoint=path)
    assert again.skipped == 20  # every line was whole
