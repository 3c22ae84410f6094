"""Suggested replies, link and submit buttons, auto-suggest and HTML messages."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from .._errors import InvalidRequestError
from .._validate import check_text
from ._checks import check_items, check_label, check_url
from ._message import RICH_CONTENT_TYPE, RichMessage, TemplateId

__all__ = [
    "LinkButton",
    "QuickReply",
    "auto_suggest",
    "html",
    "link_buttons",
    "submit_button",
    "suggested_replies",
]


@dataclass(frozen=True, slots=True)
class QuickReply:
    """A suggested reply: a button that sends `message` (or `title`) as the user.

    Attributes:
        title: the button's label.
        message: the text sent when tapped; the title when None.
        reply_metadata: metadata sent with that message (a bot reads it back in
            `BotRequest.metadata`), e.g. `{"KM_CHAT_CONTEXT": {"buttonClicked": True}}`.
    """

    title: str
    message: str | None = None
    reply_metadata: Mapping[str, Any] | None = None

    def wire(self) -> dict[str, Any]:
        """`{"title", "message", "replyMetadata"?}` as templates 6 and 10 carry it."""
        out: dict[str, Any] = {
            "title": check_label(self.title, "suggested reply title"),
            "message": check_text(
                self.title if self.message is None else self.message,
                "suggested reply message",
            ),
        }
        if self.reply_metadata is not None:
            out["replyMetadata"] = dict(
                check_mapping(self.reply_metadata, "reply_metadata")
            )
        return out


@dataclass(frozen=True, slots=True)
class LinkButton:
    """A button that opens a page (`link_buttons`; on a card, a `Button` with a
    `Link`).

    Attributes:
        name: the button's label.
        url: an absolute http(s) URL.
        new_tab: open it in a new tab (the widget's default); False: the same tab.
    """

    name: str
    url: str
    new_tab: bool = True

    def wire(self) -> dict[str, Any]:
        """Template 3's `{"type": "link", "url", "name", "openLinkInNewTab"?}`."""
        out: dict[str, Any] = {
            "type": "link",
            "url": check_url(self.url, "link button url"),
            "name": check_label(self.name, "link button name"),
        }
        if not self.new_tab:  # the widget's default is a new tab
            out["openLinkInNewTab"] = False
        return out


def check_mapping(value: object, what: str) -> Mapping[str, Any]:
    """A mapping with str keys (the values are checked when encoded)."""
    if not isinstance(value, Mapping):
        raise InvalidRequestError(
            f"{what} must be a mapping, not {type(value).__name__}"
        )
    checked = cast("Mapping[str, Any]", value)
    for key in cast("Mapping[object, object]", value):
        if not isinstance(key, str) or not key:
            raise InvalidRequestError(f"{what} keys must be non-empty str: {key!r}")
    return checked


def template(
    text: str, template_id: TemplateId, payload: object, **extra: Any
) -> RichMessage:
    """A template message: `contentType` 300, the id, the payload, any extra keys."""
    metadata: dict[str, Any] = {
        "contentType": RICH_CONTENT_TYPE,
        "templateId": template_id.value,
        "payload": payload,
        **extra,
    }
    return RichMessage.from_metadata(check_text(text), metadata)


def suggested_replies(text: str, replies: Iterable[str | QuickReply]) -> RichMessage:
    """Buttons that answer for the user (template 6).

    suggested_replies("Anything else?", ["Yes", QuickReply("No", "No, thanks")])
    """
    found = check_items(replies, "replies")
    return template(text, TemplateId.SUGGESTED_REPLIES, _replies(found))


def _replies(replies: Sequence[str | QuickReply]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for reply in replies:
        if isinstance(reply, str):
            reply = QuickReply(reply)
        elif not isinstance(reply, QuickReply):
            raise InvalidRequestError(
                f"a reply is a str or a QuickReply, not {type(reply).__name__}"
            )
        out.append(reply.wire())
    return out


def link_buttons(text: str, buttons: Iterable[LinkButton]) -> RichMessage:
    """Buttons that open web pages (template 3)."""
    found = check_items(buttons, "buttons")
    for button in found:
        if not isinstance(button, LinkButton):
            raise InvalidRequestError(
                f"buttons must be LinkButtons, not {type(button).__name__}"
            )
    return template(text, TemplateId.BUTTONS, [b.wire() for b in found])


def submit_button(
    text: str,
    name: str,
    form_data: Mapping[str, Any],
    action_url: str,
    *,
    request_type: str = "json",
    reply_text: str | None = None,
) -> RichMessage:
    """A button that posts `form_data` to `action_url` (template 3).

    Args:
        text: the message text.
        name: the button's label.
        form_data: the fields posted (hidden from the user).
        action_url: where they are posted; https only (the data is the user's).
        request_type: `"json"` (posted as JSON, `reply_text` shown as the user's
            answer) or the form post the widget makes otherwise.
        reply_text: the acknowledgement shown on tap; the button name when None.
    """
    button: dict[str, Any] = {"name": check_label(name, "submit button name")}
    if reply_text is not None:
        button["replyText"] = check_text(reply_text, "reply_text")
    data = check_mapping(form_data, "form_data")
    return template(
        text,
        TemplateId.BUTTONS,
        [button],
        formData=dict(data),
        formAction=check_url(action_url, "action_url", https_only=True),
        requestType=check_text(request_type, "request_type"),
    )


def auto_suggest(
    text: str, suggestions: Iterable[str] | str, *, placeholder: str | None = None
) -> RichMessage:
    """Type-ahead suggestions in the user's input box (`KM_AUTO_SUGGESTION`).

    `suggestions` is a list of strings, or an https URL the widget queries.
    """
    source: str | list[str]
    if isinstance(suggestions, str):
        source = check_url(suggestions, "suggestions URL", https_only=True)
    else:
        source = [
            check_text(s, "a suggestion")
            for s in check_items(suggestions, "suggestions")
        ]
    setting: dict[str, Any] = {"source": source}
    if placeholder is not None:
        setting["placeholder"] = check_text(placeholder, "placeholder")
    return RichMessage.from_metadata(check_text(text), {"KM_AUTO_SUGGESTION": setting})


def html(text_html: str, *, replies: Iterable[str | QuickReply] = ()) -> RichMessage:
    """A message whose text is HTML, optionally with suggested replies under it.

    Through `message/v2/send` it goes as `contentType: 3`; in a bot reply as
    `messageType: "html"`.
    """
    found = list(replies) if not isinstance(replies, str) else [replies]
    metadata: dict[str, Any] = {}
    if found:
        metadata = {
            "contentType": RICH_CONTENT_TYPE,
            "templateId": TemplateId.SUGGESTED_REPLIES.value,
            "payload": _replies(found),
        }
    return RichMessage.from_metadata(check_text(text_html), metadata, html=True)
