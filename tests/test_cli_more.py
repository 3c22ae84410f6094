"""CLI: agents list|status, hours [TEAM], csat get, messages info|delete (#22),
through the real entry point against FakeKommunicate (env set by `threaded_fake`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from kommunicate_async._cli import main

if TYPE_CHECKING:
    import pytest

    from kommunicate_async.testing import FakeKommunicate


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def as_json(text: str) -> Any:
    return msgspec.json.decode(text.strip().splitlines()[-1])


def test_agents_list_and_status(
    capsys: pytest.CaptureFixture[str], threaded_fake: FakeKommunicate
) -> None:
    threaded_fake.add_agent("ann@acme.io", display_name="Ann")
    threaded_fake.add_agent("bob@acme.io", online=False)
    code, out, err = run(capsys, "agents", "list")
    assert (code, err) == (0, "")
    assert out.splitlines() == ["ann@acme.io: Ann <->", "bob@acme.io: - <->"]
    code, out, _ = run(capsys, "agents", "list", "--json")
    assert [u["userId"] for u in as_json(out)] == ["ann@acme.io", "bob@acme.io"]
    code, out, _ = run(capsys, "agents", "status")
    assert (code, out) == (0, "online: ann@acme.io\naway: bob@acme.io\n")
    code, out, _ = run(capsys, "agents", "status", "--json")
    assert as_json(out) == {"online": ["ann@acme.io"], "away": ["bob@acme.io"]}


def test_hours(
    capsys: pytest.CaptureFixture[str], threaded_fake: FakeKommunicate
) -> None:
    threaded_fake.add_team(
        "Billing",
        team_id=42,
        timezone="Europe/Paris",
        hours={"0": "0000-0000"},
        message="Closed",
    )
    code, out, err = run(capsys, "hours", "42")
    assert (code, err) == (0, "")
    assert out.startswith("Billing: ")
    assert "  day 0: 0000-0000" in out and "  away message: Closed" in out
    code, out, _ = run(capsys, "hours", "Billing", "--json")
    doc = as_json(out)
    assert (doc["teamId"], doc["timezone"], isinstance(doc["open"], bool)) == (
        42,
        "Europe/Paris",
        True,
    )
    code, out, err = run(capsys, "hours")  # no default team
    assert code != 0 and out == ""
    assert err.startswith("kommunicate-async: ") and err.count("\n") == 1


def test_csat_and_message_info_and_delete(
    capsys: pytest.CaptureFixture[str], threaded_fake: FakeKommunicate
) -> None:
    run(capsys, "conversation", "create", "--member", "u1", "--client-id", "c9")
    code, out, _ = run(capsys, "csat", "get", "c9")
    assert (code, out) == (0, "no rating\n")
    group = threaded_fake.conversation("c9")
    threaded_fake.directory.csat[group.id] = {
        "groupId": group.id,
        "rating": 5,
        "comments": ["great"],
    }
    code, out, _ = run(capsys, "csat", "get", str(group.id), "--json")
    assert as_json(out)["rating"] == 5
    code, out, _ = run(capsys, "csat", "get", "c9")
    assert out == "rating 5: great\n"
    run(capsys, "send", "c9", "hello")
    key = threaded_fake.messages("c9")[0].key
    code, out, _ = run(capsys, "messages", "info", key)
    assert (code, out) == (0, "u1: delivered\n")
    code, out, _ = run(capsys, "messages", "info", key, "--json")
    assert as_json(out)[0]["userId"] == "u1"
    code, out, _ = run(capsys, "messages", "delete", key, "--for-all", "--json")
    assert (code, as_json(out)) == (0, {"key": key, "deleted": True, "for_all": True})
    assert threaded_fake.messages("c9") == []
    code, out, err = run(capsys, "messages", "delete", key)
    assert code != 0 and err.count("\n") == 1
