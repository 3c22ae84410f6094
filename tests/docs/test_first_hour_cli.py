"""The first hour's friction, command-line side, through the real entry points:
help defaults once and right, a closed pipe ends quietly, human times, batch
summaries that count what an interrupt or a reconcile left."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import pytest

from kommunicate_async._cli import EXIT_BROKEN_PIPE, main
from kommunicate_async._cli._parser import build_parser
from tests.test_cli import as_json, run
from tests.threaded_fake import ThreadedFake

if TYPE_CHECKING:
    import argparse

    from kommunicate_async.testing import FakeKommunicate

ROOT = Path(__file__).resolve().parents[2]


def every_parser(
    parser: argparse.ArgumentParser, name: str = ""
) -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(name, parser)]
    for action in parser._actions:
        choices: Any = getattr(action, "choices", None)
        if isinstance(choices, dict):
            for sub, child in choices.items():
                found += every_parser(child, f"{name} {sub}".strip())
    return found


def test_help_shows_each_default_once_and_never_none() -> None:
    parsers = every_parser(build_parser())
    assert len(parsers) > 30
    for name, parser in parsers:
        text = " ".join(parser.format_help().split())  # unwrapped
        assert "(default: None)" not in text, name
        assert "(default: False)" not in text, name
        assert not re.search(r"\(default: [^)]*\) \(default:", text), name
    send_batch = " ".join(dict(parsers)["send-batch"].format_help().split())
    for shown in (
        "sends in flight (default: 32)",
        "send attempts per item (default: 3)",
        "per-attempt timeout (default: 30)",
        "Of-User-Id and default sender (default: bot)",
    ):
        assert shown in send_batch


def test_help_through_the_real_entry_point() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "kommunicate_async", "send-batch", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    text = " ".join(done.stdout.split())
    assert done.returncode == 0 and done.stderr == ""
    assert "send attempts per item (default: 3)" in text
    assert "(default: None)" not in text and ") (default:" not in text


def test_a_closed_pipe_ends_quietly_with_141() -> None:
    """`kommunicate-async demo --json | head -c0`: the reader is gone before the
    first byte; no traceback, no "Exception ignored", the shell's SIGPIPE code."""
    for argv in (["demo", "--json"], ["demo"]):
        reader, writer = os.pipe()
        os.close(reader)  # a real pipe whose reader has gone
        done = subprocess.run(
            [sys.executable, "-m", "kommunicate_async", *argv],
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
        os.close(writer)
        assert (done.returncode, done.stderr) == (EXIT_BROKEN_PIPE, ""), argv
    assert EXIT_BROKEN_PIPE == 128 + signal.SIGPIPE


@pytest.mark.usefixtures("threaded_fake")
def test_messages_list_prints_local_times(capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "conversation", "create", "--member", "u1", "--client-id", "c1")
    run(capsys, "send", "c1", "hello", "--sender", "u1")
    _, out, _ = run(capsys, "messages", "list", "c1", "--json")
    [message] = as_json(out)
    when = datetime.fromtimestamp(message["created_at"] / 1000, tz=UTC)
    code, out, _ = run(capsys, "messages", "list", "c1")
    local = when.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    assert code == 0 and out == f"{local} u1: hello\n"


def _batch_input(tmp_path: Path, count: int) -> Path:
    source = tmp_path / "in.jsonl"
    source.write_bytes(
        b"".join(
            msgspec.json.encode({"conversation": "c1", "text": f"m{i}"}) + b"\n"
            for i in range(count)
        )
    )
    return source


def test_a_rerun_counts_items_reconcile_found_already_sent(
    capsys: pytest.CaptureFixture[str], threaded_fake: FakeKommunicate, tmp_path: Path
) -> None:
    run(capsys, "conversation", "create", "--member", "u1", "--client-id", "c1")
    source, checkpoint = _batch_input(tmp_path, 3), tmp_path / "cp.jsonl"
    code, _, _ = run(
        capsys, "send-batch", str(source), "--checkpoint", str(checkpoint), "--json"
    )
    assert code == 0
    # a crash after two sends landed but before their outcomes were written
    lines = checkpoint.read_bytes().splitlines(keepends=True)
    outcomes = [i for i, line in enumerate(lines) if b'"delivered"' in line]
    checkpoint.write_bytes(
        b"".join(line for i, line in enumerate(lines) if i not in outcomes[1:])
    )
    args = ["send-batch", str(source), "--checkpoint", str(checkpoint), "--reconcile"]
    code, out, _ = run(capsys, *args, "--no-progress")
    assert code == 0
    assert out.splitlines()[0].endswith(
        "2 delivered (2 found already sent by --reconcile, not sent again), "
        "0 failed, 0 ambiguous, 1 skipped, 0 attempts"
    )
    assert len(threaded_fake.messages("c1")) == 3  # nothing sent twice
    checkpoint.write_bytes(
        b"".join(line for i, line in enumerate(lines) if i not in outcomes[1:])
    )
    _, out, _ = run(capsys, *args, "--json")
    summary = as_json(out)["summary"]
    assert (summary["found_sent"], summary["skipped"]) == (2, 1)
    assert summary["interrupted"] is False


def test_an_interrupt_says_what_was_delivered_before_it(
    capsys: pytest.CaptureFixture[str],
    threaded_fake: FakeKommunicate,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kommunicate_async._cli import _output

    run(capsys, "conversation", "create", "--member", "u1", "--client-id", "c1")
    source = _batch_input(tmp_path, 10)
    printed = _output.Printer.document

    def ctrl_c_after_three(self: _output.Printer, data: object) -> None:
        printed(self, data)
        if isinstance(data, dict) and data.get("index") is not None:
            if len(threaded_fake.messages("c1")) >= 3:
                raise KeyboardInterrupt

    monkeypatch.setattr(_output.Printer, "document", ctrl_c_after_three)
    code, out, err = run(
        capsys, "send-batch", str(source), "--json", "--concurrency", "1"
    )
    assert code == 130 and "Interrupted" in err
    summary = as_json(out)["summary"]
    assert summary["interrupted"] is True and summary["delivered"] == 3
    code, out, _ = run(
        capsys, "send-batch", str(source), "--concurrency", "1", "--no-progress"
    )
    assert code == 130
    assert re.match(
        r"Interrupted after \d+\.\ds: \d+ delivered before the interrupt, 0 failed",
        out,
    )


@pytest.mark.slow
def test_ctrl_c_on_the_real_entry_point(tmp_path: Path) -> None:
    """A real SIGINT to `python -m kommunicate_async send-batch`: the summary
    counts what was delivered before it, and the fake holds exactly those (or one
    more, the send on the wire when Ctrl-C came)."""
    source = _batch_input(tmp_path, 200)
    with ThreadedFake() as fake:
        fake.state.create_group(
            name="c", members=["u"], client_group_id="c1", metadata={}, admin_id="bot"
        )
        env = {
            **os.environ,
            "KOMMUNICATE_API_KEY": fake.api_key,
            "KOMMUNICATE_BASE_URL": fake.url,
            "KOMMUNICATE_CHAT_URL": fake.url,
        }
        cmd = [sys.executable, "-m", "kommunicate_async", "send-batch", str(source)]
        with subprocess.Popen(
            [*cmd, "--json", "--concurrency", "1", "--rate", "20"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        ) as child:
            deadline = time.monotonic() + 30
            while len(fake.messages("c1")) < 5 and time.monotonic() < deadline:
                time.sleep(0.02)
            child.send_signal(signal.SIGINT)
            out, err = child.communicate(timeout=30)
        summary = msgspec.json.decode(out.splitlines()[-1])["summary"]
        assert child.returncode == 130 and "Interrupted" in err
        assert summary["interrupted"] is True
        assert summary["delivered"] >= 5
        assert len(fake.messages("c1")) - summary["delivered"] in (0, 1)


def test_a_closed_pipe_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same, in this process: stdout is then pointed at /dev/null."""
    reader, writer = os.pipe()
    os.close(reader)
    with os.fdopen(writer, "w") as closed:
        monkeypatch.setattr(sys, "stdout", closed)
        assert main(["rich", "lint", "--json", str(ROOT / "pyproject.toml")]) == 141
        closed.write("x" * 100_000)  # /dev/null now: no second BrokenPipeError
        closed.flush()


def test_local_time_of_an_unknown_moment() -> None:
    from kommunicate_async._cli._output import local_time

    assert local_time(None) == local_time(0) == "-"
