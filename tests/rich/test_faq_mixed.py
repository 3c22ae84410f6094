"""FAQ (template 8) and mixed buttons (template 11) against their examples.

Template 8's field names come from a constructed fixture (UNCERTAIN,
docs/wire.md#rich); template 11's from a public bot's verbatim payload.
"""

from __future__ import annotations

import msgspec
import pytest

from kommunicate_async import InvalidRequestError, rich
from kommunicate_async.rich import Button, Link, QuickReply, Submit
from tests.fixtures import fixture
from tests.rich.test_builders import assert_both_forms


def test_mixed_buttons_matches_the_public_example() -> None:
    want = fixture("rich/mixed-buttons.public-bot.json")
    message = rich.mixed_buttons(
        want["message"], [Button("Chat with Experts", QuickReply("Chat with Experts"))]
    )
    assert_both_forms(message, want)
    assert message.template_id == "11"


def test_mixed_buttons_all_three_actions() -> None:
    message = rich.mixed_buttons(
        "Pick one",
        [
            Button("Docs", Link("https://docs.example.com", new_tab=False)),
            Button("Talk", QuickReply("Talk", "I want a person")),
            Button(
                "Pay", Submit({"amount": "10"}, "https://pay.example.com", text="Paid")
            ),
        ],
    )
    assert message.bot_reply()["metadata"]["payload"] == [
        {
            "name": "Docs",
            "action": {
                "type": "link",
                "url": "https://docs.example.com",
                "openLinkInNewTab": False,
            },
        },
        {
            "name": "Talk",
            "action": {
                "type": "quickReply",
                "title": "Talk",
                "message": "I want a person",
            },
        },
        {
            "name": "Pay",
            "action": {
                "type": "submit",
                "replyText": "Paid",
                "formData": {"amount": "10"},
                "formAction": "https://pay.example.com",
                "requestType": "json",
            },
        },
    ]
    sent = message.send_metadata()
    assert msgspec.json.decode(sent["payload"])[0]["name"] == "Docs"


def test_faq_matches_the_docs_example() -> None:
    want = fixture("rich/faq.constructed.json")
    payload = want["metadata"]["payload"]
    message = rich.faq(
        want["message"],
        payload["title"],
        payload["description"],
        button_label=payload["buttonLabel"],
        buttons=["Yes", "No"],
    )
    assert_both_forms(message, want)
    minimal = rich.faq("x", "Q?", "A.").bot_reply()["metadata"]["payload"]
    assert minimal == {"title": "Q?", "description": "A."}


@pytest.mark.parametrize(
    "build",
    [
        lambda: rich.mixed_buttons("x", []),
        lambda: rich.mixed_buttons("x", ["not a button"]),  # type: ignore[list-item]
        lambda: rich.mixed_buttons("x", [Button("", Link("https://a.example"))]),
        lambda: rich.mixed_buttons("x", [Button("a", Link("not a url"))]),
        lambda: rich.mixed_buttons("x", [Button("a", "nothing")]),  # type: ignore[arg-type]
        lambda: rich.faq("x", "", "A."),
        lambda: rich.faq("x", "Q", "A", buttons="Yes"),
        lambda: rich.faq("x", "Q", "A", buttons=[""]),
    ],
)
def test_bad_input_is_refused(build: object) -> None:
    with pytest.raises(InvalidRequestError):
        build()  # type: ignore[operator]
