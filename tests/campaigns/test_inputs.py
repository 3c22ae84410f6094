"""Inputs that cannot be damaged (issue 20): a checkpoint is never written into a
file that is not one, the CLI refuses a checkpoint equal to its input, and
`send-batch` reads CSV as well as JSONL, naming the line of a bad row."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec
import pytest

from kommunicate_async import CheckpointError, OutgoingMessage
from kommunicate_async._cli import main
from kommunicate_async._cli._batch_input import BatchInput, input_format
from kommunicate_async.testing import FakeKommunicate

if TYPE_CHECKING:
    from pathlib import Path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- the library: a checkpoint never goes into a file that is not one -------------


@pytest.mark.parametrize(
    "content",
    [
        b'{"conversation": 1, "text": "hello"}\n',  # a JSONL input
        b"conversation,text\nc1,hello\n",  # a CSV input
        b"just some notes",  # one line, no newline, not ours
        b'{"key":"k","status":"weird","index":0,"at":1}\n',  # our shape, unknown status
    ],
)
async def test_a_non_checkpoint_file_is_refused_and_left_alone(
    tmp_path: Path, content: bytes
) -> None:
    target = tmp_path / "campaign.jsonl"
    target.write_bytes(content)
    async with FakeKommunicate() as fake, fake.session() as km:
        chat = await km.conversations.create(["u1"])
        with pytest.raises(CheckpointError) as caught:
            await km.messages.send_many(
                [OutgoingMessage(chat.id, "hi")], checkpoint=target
            )
        assert fake.requests_to("POST /rest/ws/message/v2/send") == []
        assert fake.messages(chat.id) == []
    assert target.read_bytes() == content  # not one byte appended
    assert "is not a checkpoint file" in str(caught.value)
    assert "nothing was sent" in str(caught.value)


@pytest.mark.parametrize(
    "content",
    [
        b"",  # empty: a new checkpoint
        b'{"key":"","status":"run","index":-1,"at":1,"pid":1,"host":"h"}\n',
        b'{"key":"a","status":"delivered","index":0,"at":1,"message_key":"m"}\n',
        b'{"key":"","status":"ru',  # torn during the very first write
    ],
)
async def test_a_checkpoint_or_empty_file_is_accepted(
    tmp_path: Path, content: bytes
) -> None:
    target = tmp_path / "cp.jsonl"
    target.write_bytes(content)
    async with FakeKommunicate() as fake, fake.session() as km:
        chat = await km.conversations.create(["u1"])
        report = await km.messages.send_many(
            [OutgoingMessage(chat.id, "hi")], checkpoint=target
        )
    assert report.delivered + report.skipped == 1
    assert target.read_bytes().startswith(content)


# -- the CLI: checkpoint == input, and CSV ------------------------------------------


def test_the_cli_refuses_a_checkpoint_that_is_its_input(
    capsys: pytest.CaptureFixture[str], threaded_fake: FakeKommunicate, tmp_path: Path
) -> None:
    source = tmp_path / "campaign.jsonl"
    source.write_bytes(b'{"conversation": "c1", "text": "hi"}\n')
    before = source.read_bytes()
    for checkpoint in (str(source), str(tmp_path / "." / "campaign.jsonl")):
        code, out, err = run(
            capsys, "send-batch", str(source), "--checkpoint", checkpoint
        )
        assert (code, out) == (2, "")
        assert "is the input file itself: nothing was sent" in err
    assert source.read_bytes() == before
    assert threaded_fake.requests_to("POST /rest/ws/message/v2/send") == []


def test_the_cli_refuses_a_checkpoint_that_is_another_input(
    capsys: pytest.CaptureFixture[str], threaded_fake: FakeKommunicate, tmp_path: Path
) -> None:
    other = tmp_path / "other.csv"
    other.write_text("conversation,text\nc1,hello\n")
    source = tmp_path / "in.jsonl"
    source.write_bytes(b'{"conversation": "c1", "text": "hi"}\n')
    code, out, err = run(capsys, "send-batch", str(source), "--checkpoint", str(other))
    assert code == 3 and "CheckpointError" in err and "not a checkpoint file" in err
    assert other.read_text() == "conversation,text\nc1,hello\n"
    assert threaded_fake.requests_to("POST /rest/ws/message/v2/send") == []
    assert "0 items" not in out


def test_send_batch_reads_csv_by_extension(
    capsys: pytest.CaptureFixture[str], threaded_fake: FakeKommunicate, tmp_path: Path
) -> None:
    run(capsys, "conversation", "create", "--member", "u1", "--client-id", "c1")
    source = tmp_path / "campaign.csv"
    source.write_text(
        "conversation,text,sender,dedupe_key,metadata\n"
        'c1,"Hello, Ann",,k-1,"{""tier"": ""gold""}"\n'
        "\n"
        'c1,"two\nlines",bot,,\n'
    )
    code, out, err = run(
        capsys,
        "send-batch",
        str(source),
        "--checkpoint",
        str(tmp_path / "cp.jsonl"),
        "--json",
    )
    assert (code, err) == (0, "")
    rows = [msgspec.json.decode(line) for line in out.splitlines()[:-1]]
    assert sorted((r["line"], r["status"]) for r in rows) == [
        (2, "delivered"),
        (4, "delivered"),  # the 1-based line each row starts on
    ]
    stored = {m.text: m for m in threaded_fake.messages("c1")}
    assert stored["Hello, Ann"].metadata == {"tier": "gold", "kmDedupeKey": "k-1"}
    assert stored["two\nlines"].sender == "bot"


def test_send_batch_format_flag_reads_csv_from_any_name(
    capsys: pytest.CaptureFixture[str], threaded_fake: FakeKommunicate, tmp_path: Path
) -> None:
    run(capsys, "conversation", "create", "--member", "u1", "--client-id", "c1")
    group_id = threaded_fake.conversation("c1").id
    source = tmp_path / "campaign.txt"
    source.write_text(f"text,conversation\nhi,{group_id}\n")
    code, _, err = run(capsys, "send-batch", str(source), "--format", "csv")
    assert (code, err) == (0, "")
    assert [m.text for m in threaded_fake.messages(group_id)] == [
        "hi"
    ]  # digits: a groupId


@pytest.mark.parametrize(
    ("content", "where", "why"),
    [
        ("conversation,words\nc1,hi\n", ":1:", "the header row must name"),
        ("conversation,text\nc1,hi\nc1\n", ":3:", "1 fields, the header has 2"),
        ("conversation,text\nc1,hi\n,hi\n", ":3:", "conversation is empty"),
        ("conversation,text\nc1,\n", ":2:", "text is empty"),
        ("conversation,text,metadata\nc1,hi,[1]\n", ":2:", "metadata must be a JSON"),
        ('conversation,text\nc1,hi\nc1,"open\n', ":3:", "unexpected end of data"),
    ],
)
def test_a_bad_csv_row_names_its_line_and_nothing_is_sent(
    capsys: pytest.CaptureFixture[str],
    threaded_fake: FakeKommunicate,
    tmp_path: Path,
    content: str,
    where: str,
    why: str,
) -> None:
    source = tmp_path / "in.csv"
    source.write_text(content)
    code, out, err = run(capsys, "send-batch", str(source))
    assert (code, out) == (2, "")
    assert f"in.csv{where}" in err and why in err
    assert threaded_fake.requests_to("POST /rest/ws/message/v2/send") == []


def test_a_csv_given_as_jsonl_says_what_to_do(
    capsys: pytest.CaptureFixture[str], threaded_fake: FakeKommunicate, tmp_path: Path
) -> None:
    source = tmp_path / "campaign.data"
    source.write_text("conversation,text\nc1,hello\n")
    code, _, err = run(capsys, "send-batch", str(source))
    assert code == 2
    assert "campaign.data:1:" in err and "--format csv" in err
    assert "invalid character" not in err.split("(is it")[1]
    assert threaded_fake.requests_to("POST /rest/ws/message/v2/send") == []


def test_a_non_utf8_csv_is_refused(
    capsys: pytest.CaptureFixture[str], threaded_fake: FakeKommunicate, tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(b"conversation,text\nc1,\xff\xfe\n")
    code, _, err = run(capsys, "send-batch", str(source))
    assert code == 2 and "not UTF-8" in err
    assert threaded_fake.requests_to("POST /rest/ws/message/v2/send") == []


def test_input_format_by_extension_or_flag() -> None:
    assert input_format("a.CSV", None) == "csv"
    assert input_format("a.jsonl", None) == "jsonl"
    assert input_format("-", "csv") == "csv"
    assert input_format("a.csv", "jsonl") == "jsonl"


def test_csv_items_are_read_lazily_after_the_check(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("conversation,text\n7,a\nc2,b\n")
    with source.open("rb") as handle:
        reader = BatchInput(handle, "in.csv", "csv")
        assert list(reader.check()) == [2, 3]
        items = reader.items()
        assert next(items) == OutgoingMessage(7, "a")
        assert next(items) == OutgoingMessage("c2", "b")
        assert next(items, None) is None


def test_send_batch_broadcasts_unless_told_not_to(
    capsys: pytest.CaptureFixture[str], threaded_fake: FakeKommunicate, tmp_path: Path
) -> None:
    for i in range(5):
        threaded_fake.state.create_group(
            name=f"g{i}",
            members=[f"u{i}"],
            client_group_id=f"c{i}",
            metadata={},
            admin_id="bot",
        )
    source = tmp_path / "campaign.csv"
    source.write_text("conversation,text\n" + "".join(f"c{i},hi\n" for i in range(5)))
    assert main(["send-batch", str(source), "--broadcast-chunk", "2"]) == 0
    sizes = [
        len(msgspec.json.decode(r.body)["clientGroupIds"])
        for r in threaded_fake.requests_to("POST /rest/ws/message/sendall")
    ]
    assert sizes == [2, 2]  # c0 alone (the first of its message), then two requests
    assert main(["send-batch", str(source), "--no-broadcast", "--format", "csv"]) == 0
    assert len(threaded_fake.requests_to("POST /rest/ws/message/sendall")) == 2
    assert len(threaded_fake.requests_to("POST /rest/ws/message/v2/send")) == 1 + 5
    code = main(["send-batch", str(source), "--broadcast-chunk", "51"])
    assert code == 2 and "--broadcast-chunk must be an int from 2 to 50" in (
        capsys.readouterr().err
    )
