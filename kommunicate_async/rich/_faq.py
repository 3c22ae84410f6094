"""FAQ (template 8) and mixed buttons (template 11).

Template ids from the Android SDK's `KmRichMessageFactory` (8 FAQ, 11 mixed
buttons) and the Web SDK's `ACTIONABLE_MESSAGE_TEMPLATE` (8 `DIALOG_BOX`, 11
`GENERIC_BUTTONS`). Mixed buttons follow Kommunicate's current "Buttons" docs and
public bots that use them: `{name, action: {type, …}}` with `link`, `quickReply`
and `submit` actions in one message. The FAQ payload (`title`, `description`,
`buttonLabel`, `buttons`) follows the docs' FAQ example; no fixture in this
repository holds it, so its field names are UNCERTAIN (docs/wire.md#rich).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._errors import InvalidRequestError
from .._validate import check_text
from ._buttons import QuickReply, check_mapping, template
from ._cards import Button, Link, Submit
from ._checks import check_items, check_label, check_url
from ._message import RichMessage, TemplateId

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["faq", "mixed_buttons"]


def _action(button: Button) -> dict[str, Any]:
    """Template 11's `action`: the fields of the action beside its `type`."""
    action = button.action
    if isinstance(action, Link):
        out: dict[str, Any] = {"type": "link", "url": check_url(action.url, "link url")}
        if not action.new_tab:
            out["openLinkInNewTab"] = False
        return out
    if isinstance(action, QuickReply):
        return {"type": "quickReply", **action.wire()}
    if isinstance(action, Submit):
        out = {"type": "submit"}
        if action.text is not None:
            out["replyText"] = check_text(action.text, "submit text")
        out["formData"] = dict(check_mapping(action.form_data, "form_data"))
        out["formAction"] = check_url(action.action_url, "action_url", https_only=True)
        out["requestType"] = check_text(action.request_type, "request_type")
        return out
    raise InvalidRequestError(
        f"an action is a Link, QuickReply or Submit, not {type(action).__name__}"
    )


def mixed_buttons(text: str, buttons: Iterable[Button]) -> RichMessage:
    """Link, suggested-reply and submit buttons in one message (template 11).

    mixed_buttons("Pick one", [Button("Docs", Link("https://docs.example.com")),
                               Button("Talk to us", QuickReply("Talk to us"))])
    """
    found = check_items(buttons, "buttons")
    payload: list[dict[str, Any]] = []
    for button in found:
        if not isinstance(button, Button):
            raise InvalidRequestError(
                f"a mixed button is a Button, not {type(button).__name__}"
            )
        payload.append(
            {"name": check_label(button.name, "button name"), "action": _action(button)}
        )
    return template(text, TemplateId.MIXED_BUTTONS, payload)


def faq(
    text: str,
    title: str,
    description: str,
    *,
    button_label: str | None = None,
    buttons: Iterable[str] = (),
) -> RichMessage:
    """A question and its answer, with optional reply buttons (template 8).

    faq("Here is what I found", "How do I reset my password?",
        "Open Settings, then Security.", button_label="Was this helpful?",
        buttons=["Yes", "No"])
    """
    payload: dict[str, Any] = {
        "title": check_text(title, "faq title"),
        "description": check_text(description, "faq description"),
    }
    if button_label is not None:
        payload["buttonLabel"] = check_label(button_label, "button_label")
    names = list(buttons)
    if isinstance(buttons, str):
        raise InvalidRequestError("buttons must be a list of labels, not a str")
    if names:
        payload["buttons"] = [
            {"name": check_label(name, "faq button"), "type": "quick_reply"}
            for name in names
        ]
    return template(text, TemplateId.FAQ, payload)
