"""`kommunicate-async doctor` through the real CLI entry point, against the fake."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from kommunicate_async._cli import main

if TYPE_CHECKING:
    import pytest

    from kommunicate_async.testing import FakeKommunicate


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_doctor_without_live_checks_the_configuration_only(
    threaded_fake: FakeKommunicate, capsys: pytest.CaptureFixture[str]
) -> None:
    before = len(threaded_fake.requests)
    code, out, err = run(capsys, "doctor")
    assert (code, err) == (0, "")
    assert (
        f"API key   set ({len(threaded_fake.api_key)} characters, KOMMUNICATE_API_KEY)"
        in out
    )
    assert f"base_url  {threaded_fake.url}" in out and "proxy     none (direct)" in out
    assert threaded_fake.api_key not in out
    assert len(threaded_fake.requests) == before  # nothing sent


def test_doctor_without_a_key_says_which_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KOMMUNICATE_API_KEY", raising=False)
    code, out, err = run(capsys, "doctor")
    assert code == 3
    assert "API key   MISSING" in out
    assert "set KOMMUNICATE_API_KEY" in err


def test_doctor_live_prints_the_table_and_never_a_secret(
    threaded_fake: FakeKommunicate,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KOMMUNICATE_APP_URL", threaded_fake.url)
    monkeypatch.setenv("KOMMUNICATE_ADMIN_PASSWORD", "admin-pw-secret")
    monkeypatch.setenv("KOMMUNICATE_USER_PASSWORD", "user-pw-secret")
    code, out, err = run(
        capsys,
        "doctor",
        "--live",
        "--app-id",
        threaded_fake.app_id,
        "--admin",
        "admin@x.io",
        "--user",
        "user-1",
    )
    assert (code, err) == (0, "")
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if "path family" in line)
    table = lines[header : header + 7]
    assert table[0].split() == [
        "path",
        "family",
        "credentials",
        "call",
        "result",
        "setting",
    ]
    rows = "\n".join(table[2:])
    assert "services (Platform API)  Api-Key" in rows
    # services, chat paths via Api-Key (base_url and chat_url: one fake), user token
    assert rows.count("works") == 4
    # FakeKommunicate does not take admin credentials: a refused row, with a reason
    assert (
        "chat_auth=ChatAuth.admin" in rows
        and "refused: the credentials were refused" in rows
    )
    assert "reachable (HTTP 404" in out  # GET / on each host
    for secret in (threaded_fake.api_key, "admin-pw-secret", "user-pw-secret"):
        assert secret not in out
    # read-only: no message was sent
    assert threaded_fake.requests_to("POST /rest/ws/message/v2/send") == []


def test_doctor_write_test_sends_one_message_and_json_reports(
    threaded_fake: FakeKommunicate,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KOMMUNICATE_APP_URL", threaded_fake.url)
    code, out, _ = run(capsys, "conversation", "create", "--member", "user-1", "--json")
    assert code == 0
    conversation = msgspec.json.decode(out.strip().splitlines()[-1])
    group_id = str(conversation["id"])
    code, out, err = run(capsys, "doctor", "--live", "--json", "--write-test", group_id)
    assert (code, err) == (0, "")
    report = msgspec.json.decode(out.strip().splitlines()[-1])
    families = {(f["family"], f["credentials"]): f for f in report["families"]}
    assert families[("message send (--write-test)", "Api-Key")]["ok"] is True
    assert (
        families[("chat paths on chat_url", "a user's token (users.login)")]["ok"]
        is None
    )
    assert [m.text for m in threaded_fake.messages(int(group_id))] == [
        "kommunicate-async doctor: test message"
    ]
