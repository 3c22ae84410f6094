"""`send --rich FILE` and `rich lint FILE`: templates checked before sending."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from tests.fixtures import raw
from tests.test_cli import as_json, run

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

    from kommunicate_async.testing import FakeKommunicate


def test_rich_lint_reports_each_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    good, broken = tmp_path / "good.json", tmp_path / "broken.json"
    good.write_bytes(raw("rich/card-carousel.json"))
    broken.write_bytes(
        raw("bot-extra/p2_send_rich_message_doc_AS_PUBLISHED_BROKEN.json")
    )
    code, out, _ = run(capsys, "rich", "lint", str(good), str(broken))
    assert code == 2
    assert f"{good}: ok (template 10)" in out
    assert "payload is a string but not valid JSON" in out
    code, out, _ = run(capsys, "rich", "lint", "--json", str(good))
    assert code == 0 and as_json(out) == [
        {"file": str(good), "ok": True, "template": "10"}
    ]
    code, out, _ = run(capsys, "rich", "lint", str(tmp_path / "missing.json"))
    assert code == 2 and "cannot read" in out


def test_send_rich_sends_the_checked_template(
    capsys: pytest.CaptureFixture[str],
    threaded_fake: FakeKommunicate,
    tmp_path: Path,
) -> None:
    template = tmp_path / "replies.json"
    template.write_bytes(raw("rich/suggested-replies.current.json"))
    group = threaded_fake.state.create_group(
        name="c", members=["u"], client_group_id="c-1", metadata={}, admin_id="bot"
    )
    code, out, err = run(capsys, "send", "c-1", "--rich", str(template))
    assert (code, err) == (0, ""), out
    (stored,) = threaded_fake.messages(group.id)
    assert (
        stored.text == "The oval shaped buttons below are examples of suggested replies"
    )
    assert stored.metadata["templateId"] == "6"
    assert msgspec.json.decode(stored.metadata["payload"])[0] == {
        "title": "Example 1",
        "message": "Message for Example 1.",
    }
    code, out, err = run(capsys, "send", "c-1", "Other text", "--rich", str(template))
    assert code == 0 and threaded_fake.messages(group.id)[-1].text == "Other text"


def test_send_rich_refuses_a_broken_template_without_sending(
    capsys: pytest.CaptureFixture[str],
    threaded_fake: FakeKommunicate,
    tmp_path: Path,
) -> None:
    template = tmp_path / "broken.json"
    template.write_bytes(
        raw("bot-extra/p2_send_rich_message_doc_AS_PUBLISHED_BROKEN.json")
    )
    code, _, err = run(capsys, "send", "c-1", "--rich", str(template))
    assert code == 2 and "not valid JSON" in err
    code, _, err = run(capsys, "send", "c-1")
    assert code == 2 and "give the text, or --rich FILE" in err
    assert threaded_fake.requests_to("POST /rest/ws/message/v2/send") == []
