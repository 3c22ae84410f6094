"""The `kommunicate-async` CLI: output, --json, exit codes, one-line errors."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import msgspec
import pytest

from kommunicate_async._cli import main
from kommunicate_async._cli._send_batch import ProgressBar
from kommunicate_async.models.batch import Progress

if TYPE_CHECKING:
    from pathlib import Path

    from kommunicate_async.testing import FakeKommunicate


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def as_json(text: str) -> Any:
    return msgspec.json.decode(text.strip().splitlines()[-1])


def test_demo_on_the_embedded_fake(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KOMMUNICATE_API_KEY", raising=False)
    code, out, err = run(capsys, "demo")
    assert (code, err) == (0, "")
    assert "embedded FakeKommunicate" in out and "status: RESOLVED" in out
    assert (
        "assignee change: UPDATED" in out and "asking again:    ALREADY_ASSIGNED" in out
    )


def test_demo_json(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "KOMMUNICATE_API_KEY", "a-real-looking-key"
    )  # no --live: still the fake
    code, out, _ = run(capsys, "demo", "--json")
    report = as_json(out)
    assert code == 0
    assert report["conversation"]["status"] == "RESOLVED"
    assert report["assign_outcomes"] == ["UPDATED", "ALREADY_ASSIGNED"]
    assert report["unread_after"]["demo-customer"] == 0
    assert [m["text"] for m in report["history"]][
        -1
    ] == "Hi, my order #991 has not arrived."
    assert "a-real-looking-key" not in out


def test_demo_live_needs_a_key(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KOMMUNICATE_API_KEY", raising=False)
    code, out, err = run(capsys, "demo", "--live")
    assert code == 3 and out == ""
    assert (
        err
        == "kommunicate-async: ConfigurationError: --live needs KOMMUNICATE_API_KEY set\n"
    )


@pytest.mark.usefixtures("threaded_fake")
def test_conversation_commands(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "conversation",
        "create",
        "--member",
        "u1",
        "--agent",
        "a@x.io",
        "--client-id",
        "cli-1",
        "--title",
        "From CLI",
        "--info",
        '{"plan":"gold"}',
    )
    assert (
        code == 0
        and "Conversation 10000001 (client id cli-1)" in out
        and "From CLI" in out
    )
    code, out, _ = run(capsys, "conversation", "assign", "cli-1", "a@x.io", "--json")
    assert (code, as_json(out)) == (0, {"outcome": "UPDATED", "server": "updated"})
    code, out, _ = run(capsys, "conversation", "status", "10000001", "resolved")
    assert (code, out) == (0, "status set to RESOLVED\n")
    code, out, _ = run(capsys, "conversation", "get", "cli-1", "--json")
    data = as_json(out)
    assert (data["status"], data["assignee"], data["info"]) == (
        "RESOLVED",
        "a@x.io",
        {"plan": "gold"},
    )
    code, out, _ = run(
        capsys,
        "conversation",
        "create",
        "--member",
        "u1",
        "--agent",
        "a@x.io",
        "--get-or-create",
        "--json",
    )
    assert code == 0 and as_json(out)["client_conversation_id"] == "u1"


def test_send_and_unread(
    capsys: pytest.CaptureFixture[str], threaded_fake: FakeKommunicate
) -> None:
    run(
        capsys,
        "conversation",
        "create",
        "--member",
        "u1",
        "--member",
        "u2",
        "--client-id",
        "c",
    )
    code, out, _ = run(
        capsys, "send", "c", "hello", "--sender", "u1", "--metadata", '{"k":[1]}'
    )
    assert code == 0 and out.startswith("sent 5-")
    assert threaded_fake.messages("c")[0].metadata == {"k": "[1]"}
    code, out, _ = run(capsys, "unread", "u1", "u2", "ghost")
    assert (code, out) == (0, "u1: 0\nu2: 1\nghost: (unknown user)\n")
    code, out, _ = run(capsys, "unread", "u2", "--json")
    assert as_json(out) == {"u2": 1}


@pytest.mark.parametrize(
    ("argv", "code", "kind"),
    [
        (["send", "c", "hi", "--metadata", "{nope"], 2, "InvalidRequestError"),
        (["send", "c", "   "], 2, "InvalidRequestError"),
        (["conversation", "status", "1", "sleepy"], 2, "InvalidRequestError"),
        (["conversation", "get", "404404"], 1, "NotFoundError"),
    ],
)
def test_errors_are_one_line_with_meaningful_codes(
    capsys: pytest.CaptureFixture[str],
    threaded_fake: FakeKommunicate,
    argv: list[str],
    code: int,
    kind: str,
) -> None:
    got, out, err = run(capsys, *argv)
    assert got == code and out == ""
    assert err.startswith(f"kommunicate-async: {kind}: ") and err.count("\n") == 1
    assert "Traceback" not in err and threaded_fake.api_key not in err


@pytest.mark.usefixtures("threaded_fake")
def test_wrong_key_and_no_key(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KOMMUNICATE_API_KEY", "wrong-secret-value")
    code, _, err = run(capsys, "conversation", "get", "1", "--json")
    assert code == 1 and as_json(err)["error"]["type"] == "AuthenticationError"
    assert "wrong-secret-value" not in err
    monkeypatch.delenv("KOMMUNICATE_API_KEY")
    code, _, err = run(capsys, "unread", "u")
    assert code == 3 and "KOMMUNICATE_API_KEY" in err


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_network_errors_exit_4(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KOMMUNICATE_API_KEY", "k")
    code, _, err = run(
        capsys, "unread", "u", "--base-url", f"http://127.0.0.1:{free_port()}"
    )
    assert code == 4 and err.startswith("kommunicate-async: APIConnectionError: ")


@pytest.mark.slow
def test_fake_server_command_and_module_entry_point() -> None:
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "kommunicate_async", "fake-server", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert f"listening on http://127.0.0.1:{port}" in first
        deadline = time.monotonic() + 20
        env.update(
            KOMMUNICATE_API_KEY="fake-api-key",
            KOMMUNICATE_BASE_URL=f"http://127.0.0.1:{port}",
        )
        while True:
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "kommunicate_async",
                    "conversation",
                    "create",
                    "--member",
                    "u",
                    "--json",
                ],
                capture_output=True,
                text=True,
                env=env,
            )
            if done.returncode == 0 or time.monotonic() > deadline:
                break
        assert done.returncode == 0, done.stderr
        assert msgspec.json.decode(done.stdout)["id"] == 10000001
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    # Ctrl-C is how the fake server stops: not a failure
    assert proc.returncode == 0 and "Interrupted" not in err
    assert "FakeKommunicate stopped" in out


def test_demo_live_needs_an_agent(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KOMMUNICATE_API_KEY", "k")
    code, _, err = run(capsys, "demo", "--live")
    assert code == 3 and "--agent" in err


def test_demo_live_path_against_a_configured_host(
    capsys: pytest.CaptureFixture[str], threaded_fake: FakeKommunicate
) -> None:
    # --live uses KOMMUNICATE_BASE_URL: here the fake stands in for the real service.
    code, out, err = run(
        capsys, "demo", "--live", "--agent", "agent@acme.io", "--customer", "c1"
    )
    assert (code, err) == (0, "")
    assert f"Running against {threaded_fake.url} (live)." in out
    metadata = threaded_fake.conversation(10000001).metadata
    assert metadata["CONVERSATION_STATUS"] == "2"
    assert "KM_TEAM_ID" not in metadata  # no made-up team on a real account


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> str:
    path.write_bytes(b"".join(msgspec.json.encode(r) + b"\n" for r in rows) + b"\n")
    return str(path)


def test_send_batch(
    capsys: pytest.CaptureFixture[str], threaded_fake: FakeKommunicate, tmp_path: Path
) -> None:
    run(capsys, "conversation", "create", "--member", "u1", "--client-id", "c1")
    rows: list[dict[str, object]] = [
        {"conversation": "c1", "text": f"m{i}", "metadata": {"i": i}} for i in range(25)
    ]
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    checkpoint = str(tmp_path / "cp.jsonl")
    code, out, err = run(
        capsys, "send-batch", source, "--checkpoint", checkpoint, "--json"
    )
    lines = [msgspec.json.decode(line) for line in out.splitlines()]
    assert (code, err) == (0, "")
    assert lines[-1]["summary"]["delivered"] == 25
    assert sorted(line["index"] for line in lines[:-1]) == list(range(25))
    assert all(
        line["status"] == "delivered" and line["message_key"] for line in lines[:-1]
    )
    code, out, _ = run(capsys, "send-batch", source, "--checkpoint", checkpoint)
    assert code == 0 and "0 items in" in out and "25 skipped" in out
    assert len(threaded_fake.messages("c1")) == 25


def test_send_batch_reports_problems_with_exit_5(
    capsys: pytest.CaptureFixture[str], threaded_fake: FakeKommunicate, tmp_path: Path
) -> None:
    run(capsys, "conversation", "create", "--member", "u1", "--client-id", "c1")
    source = write_jsonl(
        tmp_path / "in.jsonl",
        [
            {"conversation": "c1", "text": "fine"},
            {"conversation": "nope", "text": "lost"},
        ],
    )
    code, out, _ = run(capsys, "send-batch", source, "--no-progress")
    assert code == 5
    assert "1 delivered, 1 failed" in out
    assert "line 2: failed: NotFoundError" in out  # 1-based, the file's line number
    assert [m.text for m in threaded_fake.messages("c1")] == ["fine"]


@pytest.mark.usefixtures("threaded_fake")
def test_send_batch_checks_the_file_before_sending(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = write_jsonl(
        tmp_path / "in.jsonl",
        [{"conversation": 1, "text": "ok"}, {"text": "no target"}],
    )
    code, out, err = run(capsys, "send-batch", source)
    assert code == 2 and out == "" and "in.jsonl:2:" in err
    code, _, err = run(capsys, "send-batch", str(tmp_path / "missing.jsonl"))
    assert code == 2 and "cannot read" in err


def test_progress_bar_draws_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    bar = ProgressBar(10, screen)
    bar(
        Progress(
            done=4,
            delivered=3,
            failed=1,
            ambiguous=0,
            skipped=1,
            attempts=5,
            elapsed=2.0,
        )
    )
    bar.close()
    text = screen.getvalue()
    assert text.startswith(
        "\r[############............] 5/10 delivered 3 failed 1 ambiguous 0"
    )
    assert "2/s" in text and "ETA 0:00:02" in text and text.endswith("\n")
    quiet = io.StringIO()
    ProgressBar(10, quiet)(Progress(1, 1, 0, 0, 0, 1, 1.0))
    assert quiet.getvalue() == ""  # not a terminal: a status line only every 10 s


@pytest.mark.slow
def test_send_batch_with_a_revoked_key_stops_and_exits_1(
    capsys: pytest.CaptureFixture[str],
    threaded_fake: FakeKommunicate,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Before: every line got its own 401 and the CLI exited 5 ("items failed").
    run(capsys, "conversation", "create", "--member", "u1", "--client-id", "c1")
    rows: list[dict[str, object]] = [
        {"conversation": "c1", "text": f"m{i}"} for i in range(500)
    ]
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    monkeypatch.setenv("KOMMUNICATE_API_KEY", "a-revoked-key")
    code, out, err = run(capsys, "send-batch", source, "--no-progress")
    assert code == 1  # the API refused: AuthenticationError's own code
    assert "BatchStoppedError" in err and "AuthenticationError" in err
    assert "a rerun resumes them" in err
    assert "items in" in out  # the summary of what was done comes first
    sends = [r for r in threaded_fake.requests if r.path == "/rest/ws/message/v2/send"]
    assert len(sends) <= 32
