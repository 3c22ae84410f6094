"""Bad templates are refused before anything is built or sent; long text warns."""

from __future__ import annotations

from typing import Any, cast

import pytest

from kommunicate_async import InvalidRequestError, rich
from kommunicate_async.rich import (
    Button,
    Card,
    Field,
    FormSubmit,
    Hidden,
    Image,
    Link,
    LinkButton,
    ListItem,
    Options,
    QuickReply,
    RichTextWarning,
    Submit,
)

BAD_INT: Any = 3
BAD_STR: Any = "card"


@pytest.mark.parametrize(
    ("build", "match"),
    [
        pytest.param(
            lambda: rich.suggested_replies("t", []),
            "must not be empty",
            id="no-replies",
        ),
        pytest.param(
            lambda: rich.suggested_replies("t", "Yes"),
            "must be a list",
            id="str-not-list",
        ),
        pytest.param(
            lambda: rich.suggested_replies("", ["a"]),
            "text must not be empty",
            id="no-text",
        ),
        pytest.param(
            lambda: rich.suggested_replies("t", [BAD_INT]),
            "str or a QuickReply",
            id="bad-reply",
        ),
        pytest.param(
            lambda: rich.link_buttons("t", []), "must not be empty", id="no-buttons"
        ),
        pytest.param(
            lambda: rich.link_buttons("t", [LinkButton("a", "javascript:alert(1)")]),
            "absolute http",
            id="javascript-url",
        ),
        pytest.param(
            lambda: rich.link_buttons("t", [LinkButton("a", "/relative")]),
            "absolute http",
            id="relative-url",
        ),
        pytest.param(
            lambda: rich.submit_button(
                "t", "Pay", {"a": "1"}, "http://example.com/pay"
            ),
            "https:// URL",
            id="submit-over-http",
        ),
        pytest.param(
            lambda: rich.submit_button("t", "Pay", ["a"], "https://example.com"),  # type: ignore[arg-type]
            "form_data must be a mapping",
            id="form-data-list",
        ),
        pytest.param(lambda: rich.images("t", []), "must not be empty", id="no-images"),
        pytest.param(
            lambda: rich.images("t", [Image("data:image/png;base64,AA")]),
            "absolute http",
            id="data-url",
        ),
        pytest.param(
            lambda: rich.carousel("t", []), "must not be empty", id="no-cards"
        ),
        pytest.param(
            lambda: rich.carousel("t", [BAD_STR]), "must be Cards", id="not-a-card"
        ),
        pytest.param(
            lambda: rich.card(
                "t", Card("T", buttons=(Button("b", Submit({}, "http://x.io")),))
            ),
            "https:// URL",
            id="card-submit-http",
        ),
        pytest.param(
            lambda: rich.card("t", Card("T", buttons=("x",))),  # type: ignore[arg-type]
            "Button or LinkButton",
            id="card-bad-button",
        ),
        pytest.param(
            lambda: rich.item_list(
                "t", [ListItem("a", action=cast("Any", Submit({}, "https://x.io")))]
            ),
            "Link or QuickReply",
            id="list-submit-action",
        ),
        pytest.param(
            lambda: rich.item_list("t", []), "must not be empty", id="no-items"
        ),
        pytest.param(lambda: rich.form("t", []), "must not be empty", id="no-fields"),
        pytest.param(
            lambda: rich.form("t", [Field("Name"), Field("Name")]),
            "duplicate form field name 'Name'",
            id="duplicate-label",
        ),
        pytest.param(
            lambda: rich.form("t", [Field("A", name="x"), Hidden("x", "1")]),
            "duplicate form field name 'x'",
            id="duplicate-name",
        ),
        pytest.param(
            lambda: rich.form("t", [Options("dropdown", "City", ())]),
            "must not be empty",
            id="dropdown-without-options",
        ),
        pytest.param(
            lambda: rich.form("t", [Field("A", kind="color")]),  # type: ignore[arg-type]
            "field kind must be one of",
            id="unknown-kind",
        ),
        pytest.param(
            lambda: rich.form("t", [Field("A", regex="([a-z")]),
            "does not compile",
            id="bad-regex",
        ),
        pytest.param(
            lambda: rich.form(
                "t", [Field("A")], submit=FormSubmit(action_url="ftp://x")
            ),
            "https:// URL",
            id="form-action-ftp",
        ),
        pytest.param(
            lambda: rich.auto_suggest("t", []), "must not be empty", id="no-suggestions"
        ),
        pytest.param(lambda: rich.video("t", []), "must not be empty", id="no-videos"),
        pytest.param(
            lambda: rich.suggested_replies(
                "t", [QuickReply("a", reply_metadata=cast("Any", {1: "x"}))]
            ),
            "keys must be non-empty str",
            id="reply-metadata-key",
        ),
        pytest.param(
            lambda: rich.suggested_replies(
                "t", [QuickReply("a", reply_metadata={"x": float("nan")})]
            ),
            "no JSON form",
            id="reply-metadata-nan",
        ),
    ],
)
def test_bad_input_is_a_typed_error(build: Any, match: str) -> None:
    with pytest.raises(InvalidRequestError, match=match):
        build()


@pytest.mark.parametrize(
    ("build", "what", "limit"),
    [
        pytest.param(
            lambda _: rich.card("t", Card("x" * 17)), "card title", 16, id="card-title"
        ),
        pytest.param(
            lambda _: rich.card("t", Card("T", subtitle="s" * 57)),
            "card subtitle",
            56,
            id="card-subtitle",
        ),
        pytest.param(
            lambda _: rich.card("t", Card("T", description="d" * 100)),
            "card description",
            99,
            id="card-description",
        ),
        pytest.param(
            lambda _: rich.item_list("t", [ListItem("a")], header_text="h" * 76),
            "list header",
            75,
            id="list-header",
        ),
        pytest.param(
            lambda _: rich.item_list("t", [ListItem("i" * 33)]),
            "list item title",
            32,
            id="item-title",
        ),
        pytest.param(
            lambda _: rich.item_list("t", [ListItem("a", "d" * 36)]),
            "list item description",
            35,
            id="item-description",
        ),
    ],
)
def test_documented_limits_warn(build: Any, what: str, limit: int) -> None:
    with pytest.warns(
        RichTextWarning,
        match=f"{what} is {limit + 1} characters; the widget shows {limit}",
    ):
        message = build(None)
    assert message.template_id in ("7", "10")  # still built: the text is only cut off


def test_limits_raise_with_strict() -> None:
    with pytest.raises(InvalidRequestError, match="card title is 17 characters"):
        rich.card("t", Card("x" * 17), strict=True)
    with pytest.raises(InvalidRequestError, match="list item title is 33"):
        rich.item_list("t", [ListItem("i" * 33)], strict=True)
    assert rich.card("t", Card("x" * 16), strict=True).template_id == "10"


def test_text_within_limits_does_not_warn(recwarn: pytest.WarningsRecorder) -> None:
    rich.card("t", Card("x" * 16, subtitle="s" * 56, description="d" * 99))
    assert not recwarn.list


def test_link_button_shorthand_on_cards_and_lists() -> None:
    card = rich.card(
        "t", Card("T", buttons=(LinkButton("Go", "https://e.x", new_tab=False),))
    )
    assert card.metadata["payload"][0]["buttons"] == [
        {
            "name": "Go",
            "action": {
                "type": "link",
                "payload": {"url": "https://e.x", "openLinkInNewTab": False},
            },
        }
    ]
    listed = rich.item_list(
        "t", [ListItem("a", action=Link("https://e.x", new_tab=False))]
    )
    assert listed.metadata["payload"]["elements"][0]["action"] == {
        "url": "https://e.x",
        "type": "link",
        "openLinkInNewTab": False,
    }


@pytest.mark.parametrize(
    ("document", "match"),
    [
        pytest.param(b"{", "not valid JSON", id="not-json"),
        pytest.param(b"[1, 2]", "is an object", id="array"),
        pytest.param(
            b'{"message": "x", "metadata": 1}',
            '"metadata" must be an object',
            id="metadata",
        ),
        pytest.param(
            b'{"message": 1, "metadata": {}}', '"message" must be a string', id="text"
        ),
        pytest.param(
            b'{"message": "x", "metadata": {"a": "b"}}',
            "not a rich message",
            id="plain",
        ),
        pytest.param(
            b'{"metadata": {"contentType": "300", "templateId": "99"}}',
            "templateId '99'",
            id="unknown-template",
        ),
        pytest.param(
            b'{"metadata": {"contentType": "300", "templateId": "6", "payload": []}}',
            "non-empty array",
            id="empty",
        ),
        pytest.param(
            b'{"metadata": {"contentType": "300", "templateId": "7", "payload": []}}',
            "non-empty object",
            id="list-array",
        ),
        pytest.param(
            b'{"metadata": {"contentType": "300", "templateId": "6", "payload": [1]}}',
            "must be objects",
            id="item",
        ),
        pytest.param(
            b'{"metadata": {"contentType": "300", "templateId": "6", "payload": [{}]}}',
            "no title",
            id="untitled",
        ),
        pytest.param(
            b'{"metadata": {"contentType": "300", "templateId": "3", "payload": [{"type": "link", "url": "javascript:x"}]}}',
            "absolute http",
            id="js-link",
        ),
        pytest.param(
            b'{"metadata": {"contentType": "300", "templateId": "12", "payload": [{"type": "text", "data": {"label": "A"}}, {"type": "text", "label": "A"}]}}',
            "duplicate field name 'A'",
            id="form-duplicate",
        ),
        pytest.param(
            b'{"metadata": {"contentType": "300", "templateId": "12", "payload": [{"type": "dropdown", "data": {"label": "A"}}]}}',
            "has no options",
            id="form-dropdown",
        ),
        pytest.param(
            b'{"metadata": {"contentType": "300", "templateId": "12", "payload": [{"type": "slider"}]}}',
            "unknown field",
            id="form-unknown",
        ),
        pytest.param(
            b'{"metadata": {"contentType": "300", "templateId": "12", "payload": [{"type": "text", "data": {}}]}}',
            "has no name or label",
            id="form-unnamed",
        ),
    ],
)
def test_load_rich_refuses_bad_documents(document: bytes, match: str) -> None:
    with pytest.raises(InvalidRequestError, match=match):
        rich.load_rich(document)


def test_hostile_nesting_is_a_typed_error_or_unreadable_never_a_crash() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(InvalidRequestError, match="not valid JSON"):
        rich.load_rich(deep)
    with pytest.raises(
        InvalidRequestError, match="payload is a string but not valid JSON"
    ):
        rich.load_rich(
            '{"metadata": {"contentType": "300", "templateId": "6", "payload": "'
            + deep
            + '"}}'
        )
    from kommunicate_async import Message

    message = Message(
        key="k", metadata={"contentType": "300", "templateId": "6", "payload": deep}
    )
    assert message.rich is not None and message.rich.payload is None
