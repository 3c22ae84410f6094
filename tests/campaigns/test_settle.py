"""Settle a checkpoint later, sending nothing (issue 20): ambiguous items become
delivered (found) or failed (absent) from history or echoes; the CLI too."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import msgspec
import pytest

from kommunicate_async import CheckpointError, EchoStore, OutgoingMessage
from kommunicate_async._batch.checkpoint import CheckpointLine
from kommunicate_async._cli import main
from kommunicate_async.testing import FakeKommunicate, Fault

if TYPE_CHECKING:
    from pathlib import Path

SENDALL = "POST /rest/ws/message/sendall"
SEND = "POST /rest/ws/message/v2/send"


def last_status(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw in path.read_bytes().splitlines():
        line = msgspec.json.decode(raw, type=CheckpointLine)
        if line.key:
            out[line.key] = line.status
    return out


async def test_ambiguous_items_are_settled_from_history(tmp_path: Path) -> None:
    checkpoint = tmp_path / "cp.jsonl"
    async with FakeKommunicate() as fake, fake.session() as km:
        ids = [(await km.conversations.create([f"u{i}"])).id for i in range(6)]
        # the broadcast request landed but its answer was lost; a single send
        # never reached the server
        fake.faults.script(SENDALL, Fault.RESET_AFTER)
        fake.faults.script(SEND, Fault.RESET_BEFORE)
        items = [OutgoingMessage(c, "news") for c in ids]
        report = await km.messages.send_many(items, checkpoint=checkpoint)
        assert report.ambiguous == 6
        sent_before = len(fake.requests_to(SEND)) + len(fake.requests_to(SENDALL))
        settled = await km.messages.settle(checkpoint)
        assert (settled.delivered, settled.failed, settled.ambiguous) == (5, 1, 0)
        assert settled.ok and settled.in_flight == 0
        assert (
            len(fake.requests_to(SEND)) + len(fake.requests_to(SENDALL)) == sent_before
        )
        statuses = last_status(checkpoint)
        assert sorted(statuses.values()) == ["delivered"] * 5 + ["failed"]
        # the rerun skips the delivered and sends only the one proven absent
        rerun = await km.messages.send_many(items, checkpoint=checkpoint)
        assert (rerun.delivered, rerun.skipped) == (1, 5)
        assert all(len(fake.messages(c)) == 1 for c in ids)


async def test_settle_reads_back_from_the_items_first_mark(tmp_path: Path) -> None:
    # The outcome line came 10 minutes after the send (retries, 429 pauses): a
    # read back `lookback` (300 s) from it missed the message, so the item was
    # settled `failed` and a rerun would have sent it twice.
    checkpoint = tmp_path / "cp.jsonl"
    async with FakeKommunicate() as fake, fake.session() as km:
        cid = (await km.conversations.create(["u"])).id
        group = fake.conversation(cid)
        fake.state.send(group, "bot", "once", {"kmDedupeKey": "k1"})
        for i in range(60):  # more than a page of newer messages above it
            fake.state.send(group, "u", f"chat {i}", {})
        at = int(time.time() * 1000)
        lines = [
            CheckpointLine("", "run", -1, at, pid=1, host="h", keys="content"),
            CheckpointLine("k1", "sending", 0, at - 50),
            CheckpointLine("k1", "ambiguous", 0, at + 600_000, conversation=cid),
        ]
        checkpoint.write_bytes(b"".join(msgspec.json.encode(x) + b"\n" for x in lines))
        settled = await km.messages.settle(checkpoint)
    assert (settled.delivered, settled.failed, settled.ambiguous) == (1, 0, 0)
    assert last_status(checkpoint) == {"k1": "delivered"}


async def test_echoes_settle_without_reading(tmp_path: Path) -> None:
    checkpoint = tmp_path / "cp.jsonl"
    store = EchoStore()
    async with FakeKommunicate() as fake, fake.session() as km:
        ids = [(await km.conversations.create([f"u{i}"])).id for i in range(3)]
        fake.faults.script(SENDALL, Fault.RESET_AFTER)
        fake.faults.script(SEND, Fault.RESET_AFTER)
        await km.messages.send_many(
            [OutgoingMessage(c, "n") for c in ids], checkpoint=checkpoint
        )
        for gid in ids:  # what a webhook receiver would have recorded
            (stored,) = fake.messages(gid)
            store.record(stored.key, stored.metadata, group_id=gid)
        settled = await km.messages.settle(checkpoint, echoes=store)
        assert settled.delivered == 3
        assert fake.requests_to("GET /rest/ws/message/list") == []


async def test_items_left_in_flight_need_the_input(tmp_path: Path) -> None:
    checkpoint = tmp_path / "cp.jsonl"
    checkpoint.write_bytes(
        b'{"key":"k1","status":"sending","index":0,"at":1}\n'
        b'{"key":"k2","status":"ambiguous","index":1,"at":1}\n'  # an older version
    )
    async with FakeKommunicate() as fake, fake.session() as km:
        settled = await km.messages.settle(checkpoint)
    assert (settled.in_flight, settled.delivered) == (2, 0) and not settled.ok
    with pytest.raises(CheckpointError, match="no checkpoint"):
        async with FakeKommunicate() as fake, fake.session() as km:
            await km.messages.settle(tmp_path / "missing.jsonl")


@pytest.mark.usefixtures("threaded_fake")
def test_the_cli_settles_and_exits_5_while_items_stay_in_flight(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    checkpoint = tmp_path / "cp.jsonl"
    checkpoint.write_bytes(b'{"key":"k1","status":"sending","index":0,"at":1}\n')
    code = main(["settle", str(checkpoint), "--json"])
    out = capsys.readouterr().out
    assert code == 5
    assert msgspec.json.decode(out.splitlines()[-1]) == {
        "settled": {"delivered": 0, "failed": 0, "ambiguous": 0, "in_flight": 1}
    }
    code = main(["settle", str(tmp_path / "input.csv")])
    assert code == 3 and "no checkpoint" in capsys.readouterr().err
    clean = tmp_path / "clean.jsonl"
    clean.write_bytes(b"")
    assert main(["settle", str(clean)]) == 0
    assert "0 delivered, 0 failed" in capsys.readouterr().out


async def test_unreadable_history_and_odd_lines_leave_items_as_they_were(
    tmp_path: Path,
) -> None:
    checkpoint = tmp_path / "cp.jsonl"
    async with FakeKommunicate() as fake, fake.session(max_retries=0) as km:
        (gid,) = [(await km.conversations.create(["u"])).id]
        checkpoint.write_bytes(
            b'{"key":"","status":"run","index":-1,"at":1}\n'
            b'{"key":"","status":"clock","index":-1,"at":1,"offset":5}\n'
            b"not json at all\n"
            b'{"key":"k1","status":"ambiguous","index":0,"at":1,"conversation":%d}\n'
            b'{"key":"k2","status":"sending","index":1,"at":1}\n'
            b'{"key":"k2","status":"delivered","index":1,"at":2}\n'
            b'{"key":"k3","status":"sen' % gid
        )
        fake.faults.script("GET /rest/ws/message/list", Fault.ERROR_500)
        settled = await km.messages.settle(checkpoint)
        assert (settled.ambiguous, settled.delivered, settled.in_flight) == (1, 0, 0)
        again = await km.messages.settle(checkpoint)  # history readable now: absent
        assert again.failed == 1 and again.ok
