"""CLI polish: stdin, shards, history and users, shell spellings, help defaults."""

from __future__ import annotations

import io
import sys
from typing import TYPE_CHECKING

import msgspec
import pytest

from kommunicate_async._cli import for_shell, main
from tests.test_cli import as_json, run

if TYPE_CHECKING:
    from pathlib import Path

    from kommunicate_async.testing import FakeKommunicate


def jsonl(rows: list[dict[str, object]]) -> bytes:
    return b"".join(msgspec.json.encode(r) + b"\n" for r in rows)


def test_send_batch_reads_standard_input(
    capsys: pytest.CaptureFixture[str],
    threaded_fake: FakeKommunicate,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run(capsys, "conversation", "create", "--member", "u1", "--client-id", "c1")
    data = jsonl([{"conversation": "c1", "text": f"m{i}"} for i in range(3)])
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"\n" + data)))
    code, out, _ = run(capsys, "send-batch", "-", "--json", "--max-attempts", "1")
    lines = [msgspec.json.decode(line) for line in out.splitlines()]
    assert code == 0 and lines[-1]["summary"]["delivered"] == 3
    assert sorted(line["line"] for line in lines[:-1]) == [2, 3, 4]  # 1-based lines
    assert sorted(m.text for m in threaded_fake.messages("c1")) == ["m0", "m1", "m2"]


def test_shards_split_one_input(
    capsys: pytest.CaptureFixture[str], threaded_fake: FakeKommunicate, tmp_path: Path
) -> None:
    run(capsys, "conversation", "create", "--member", "u1", "--client-id", "c1")
    source = tmp_path / "in.jsonl"
    source.write_bytes(
        jsonl([{"conversation": "c1", "text": f"m{i}"} for i in range(20)])
    )
    sent = []
    for shard in ("0/2", "1/2"):
        code, out, _ = run(
            capsys, "send-batch", str(source), "--shard", shard, "--json"
        )
        assert code == 0
        sent.append(as_json(out)["summary"]["delivered"])
    assert sum(sent) == 20 and all(sent)
    assert sorted(m.text for m in threaded_fake.messages("c1")) == sorted(
        f"m{i}" for i in range(20)
    )
    with pytest.raises(SystemExit):
        main(["send-batch", str(source), "--shard", "2"])
    assert "--shard is K/N" in capsys.readouterr().err


@pytest.mark.usefixtures("threaded_fake")
def test_messages_list_and_users_get(capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "conversation", "create", "--member", "u1", "--client-id", "c1")
    for text in ("one", "two", "three"):
        run(capsys, "send", "c1", text, "--sender", "u1")
    code, out, _ = run(capsys, "messages", "list", "c1", "--limit", "2")
    assert (
        code == 0
        and out.splitlines()[0].endswith("three")
        and len(out.splitlines()) == 2
    )
    code, out, _ = run(capsys, "messages", "list", "c1", "--json")
    assert [m["text"] for m in as_json(out)] == ["three", "two", "one"]
    code, _, err = run(capsys, "messages", "list", "c1", "--limit", "0")
    assert code == 2 and "--limit must be at least 1" in err
    code, out, _ = run(capsys, "users", "get", "u1", "--json")
    assert code == 0 and as_json(out)["user_id"] == "u1"
    code, _, err = run(capsys, "users", "get", "nobody")
    assert code == 1 and "NotFoundError" in err


def test_errors_use_shell_spellings(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KOMMUNICATE_API_KEY", raising=False)
    code, _, err = run(capsys, "unread", "u1")
    assert code == 3 and "set KOMMUNICATE_API_KEY" in err and "api_key=" not in err
    monkeypatch.setenv("KOMMUNICATE_API_KEY", "k")
    code, _, err = run(capsys, "unread", "u1", "--timeout", "0")
    assert code == 3 and "--timeout must be > 0" in err
    assert for_shell(
        "possibly sent by an earlier run; rerun with reconcile=True to see"
    ) == ("possibly sent by an earlier run; rerun with --reconcile to see")


def test_ctrl_c_hint_names_both_flags(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def interrupted(*_: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr("kommunicate_async._cli._dispatch", interrupted)
    code, _, err = run(capsys, "send-batch", "x.jsonl", "--checkpoint", "cp.jsonl")
    assert code == 130
    assert "same --checkpoint and --reconcile" in err


def test_help_shows_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["send-batch", "--help"])
    text = capsys.readouterr().out
    assert (
        "(default: 32)" in text and "--shard K/N" in text and "--max-attempts N" in text
    )
