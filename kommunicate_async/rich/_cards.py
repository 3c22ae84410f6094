"""Cards, carousels and lists (templates 10 and 7), and the actions on them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._errors import InvalidRequestError
from .._validate import check_text
from ._buttons import LinkButton, QuickReply, check_mapping, template
from ._checks import check_items, check_label, check_url, frozen_items
from ._message import RichMessage, TemplateId

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "Button",
    "Card",
    "Link",
    "ListItem",
    "Submit",
    "card",
    "carousel",
    "item_list",
]


@dataclass(frozen=True, slots=True)
class Link:
    """A `Button` action that opens a page.

    Attributes:
        url: an absolute http(s) URL.
        new_tab: open it in a new tab (the widget's default); False: the same tab.
    """

    url: str
    new_tab: bool = True


@dataclass(frozen=True, slots=True)
class Submit:
    """A `Button` action that posts hidden data.

    Attributes:
        form_data: the data posted (any JSON-able mapping).
        action_url: where it is posted (https only).
        text: the acknowledgement shown as the user's message when tapped.
        request_type: how it is posted: `"json"` (a JSON body) or `"POST"` (a form).
    """

    form_data: Mapping[str, Any]
    action_url: str
    text: str | None = None
    request_type: str = "json"


Action = Link | QuickReply | Submit


@dataclass(frozen=True, slots=True)
class Button:
    """A labelled button on a card, a list or `mixed_buttons`.

    Attributes:
        name: the button's label.
        action: what a tap does: a `Link`, a `QuickReply` or a `Submit`.
    """

    name: str
    action: Action


def _card_action(action: object) -> dict[str, Any]:
    """An action as template 10 writes it: `{"type", "payload": {...}}`."""
    if isinstance(action, Link):
        payload: dict[str, Any] = {"url": check_url(action.url, "link url")}
        if not action.new_tab:
            payload["openLinkInNewTab"] = False
        return {"type": "link", "payload": payload}
    if isinstance(action, QuickReply):
        return {"type": "quickReply", "payload": action.wire()}
    if isinstance(action, Submit):
        payload = {}
        if action.text is not None:
            payload["text"] = check_text(action.text, "submit text")
        payload["formData"] = dict(check_mapping(action.form_data, "form_data"))
        payload["formAction"] = check_url(
            action.action_url, "action_url", https_only=True
        )
        payload["requestType"] = check_text(action.request_type, "request_type")
        return {"type": "submit", "payload": payload}
    raise InvalidRequestError(
        f"an action is a Link, QuickReply or Submit, not {type(action).__name__}"
    )


def _as_button(button: object) -> Button:
    if isinstance(button, LinkButton):  # shorthand: a named link
        return Button(button.name, Link(button.url, button.new_tab))
    if not isinstance(button, Button):
        raise InvalidRequestError(
            f"a card button is a Button or LinkButton, not {type(button).__name__}"
        )
    return button


@dataclass(frozen=True, slots=True)
class Card:
    """One card of `card` or `carousel`.

        Card("Blue shirt", subtitle="$20", buttons=[Button("Buy", Link(url))])

    Attributes:
        title: the card's title (the widget shows 16 characters).
        subtitle: a line under the title (56 characters shown).
        description: the body text (99 characters shown).
        title_ext: text beside the title (a rating, a price).
        image: the header image URL.
        overlay_text: text over the header image.
        buttons: any sequence of `Button` or `LinkButton` (stored as a tuple).
    """

    title: str
    subtitle: str | None = None
    description: str | None = None
    title_ext: str | None = None
    image: str | None = None
    overlay_text: str | None = None
    buttons: Sequence[Button | LinkButton] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "buttons", frozen_items(self.buttons, "card buttons"))

    def wire(self, *, strict: bool = False) -> dict[str, Any]:
        """The card as template 10's payload holds it."""
        out: dict[str, Any] = {
            "title": check_label(self.title, "card title", strict=strict)
        }
        if self.subtitle is not None:
            out["subtitle"] = check_label(self.subtitle, "card subtitle", strict=strict)
        header = self._header()
        if header:
            out["header"] = header
        if self.description is not None:
            out["description"] = check_label(
                self.description, "card description", strict=strict
            )
        if self.title_ext is not None:
            out["titleExt"] = check_text(self.title_ext, "title_ext")
        if self.buttons:
            out["buttons"] = [_card_button(b) for b in self.buttons]
        return out

    def _header(self) -> dict[str, str]:
        header: dict[str, str] = {}
        if self.overlay_text is not None:
            header["overlayText"] = check_text(self.overlay_text, "overlay_text")
        if self.image is not None:
            header["imgSrc"] = check_url(self.image, "card image")
        return header


def _card_button(raw: object) -> dict[str, Any]:
    """A card button as template 10 writes it."""
    button = _as_button(raw)
    return {
        "name": check_label(button.name, "button name"),
        "action": _card_action(button.action),
    }


def card(text: str, card: Card, *, strict: bool = False) -> RichMessage:
    """One card (template 10). Text past the documented limits warns
    (`RichTextWarning`), or raises with `strict=True`."""
    return carousel(text, [card], strict=strict)


def carousel(text: str, cards: Iterable[Card], *, strict: bool = False) -> RichMessage:
    """Cards side by side (template 10)."""
    found = check_items(cards, "cards")
    for item in found:
        if not isinstance(item, Card):
            raise InvalidRequestError(f"cards must be Cards, not {type(item).__name__}")
    return template(text, TemplateId.CARD, [c.wire(strict=strict) for c in found])


@dataclass(frozen=True, slots=True)
class ListItem:
    """One row of `item_list`.

    Attributes:
        title: the row's title (32 characters shown).
        description: a line under it (35 characters shown).
        image: a thumbnail URL.
        action: what a tap does: a `Link` or a `QuickReply`; None: nothing.
    """

    title: str
    description: str | None = None
    image: str | None = None
    action: Link | QuickReply | None = None


def _list_action(action: object) -> dict[str, Any]:
    """An action as template 7 writes it (flat, `quick_reply` with an underscore)."""
    if isinstance(action, Link):
        out: dict[str, Any] = {"url": check_url(action.url, "link url"), "type": "link"}
        if not action.new_tab:
            out["openLinkInNewTab"] = False
        return out
    if isinstance(action, QuickReply):
        reply = action.wire()
        out = {"type": "quick_reply", "text": reply["message"]}
        if "replyMetadata" in reply:
            out["replyMetadata"] = reply["replyMetadata"]
        return out
    raise InvalidRequestError(
        f"a list action is a Link or QuickReply, not {type(action).__name__}"
    )


def item_list(
    text: str,
    items: Iterable[ListItem],
    *,
    header_text: str | None = None,
    header_image: str | None = None,
    buttons: Iterable[Button | LinkButton] = (),
    strict: bool = False,
) -> RichMessage:
    """A list with an optional header and buttons under it (template 7; its
    payload is an object, not an array)."""
    payload: dict[str, Any] = {}
    if header_image is not None:
        payload["headerImgSrc"] = check_url(header_image, "header_image")
    if header_text is not None:
        payload["headerText"] = check_label(header_text, "list header", strict=strict)
    payload["elements"] = [_list_item(i, strict) for i in check_items(items, "items")]
    found = [_as_button(b) for b in buttons]
    if found:
        payload["buttons"] = [
            {
                "name": check_label(b.name, "button name"),
                "action": _list_action(b.action),
            }
            for b in found
        ]
    return template(text, TemplateId.LIST, payload)


def _list_item(item: object, strict: bool) -> dict[str, Any]:
    if not isinstance(item, ListItem):
        raise InvalidRequestError(f"items must be ListItems, not {type(item).__name__}")
    out: dict[str, Any] = {}
    if item.image is not None:
        out["imgSrc"] = check_url(item.image, "list item image")
    out["title"] = check_label(item.title, "list item title", strict=strict)
    if item.description is not None:
        out["description"] = check_label(
            item.description, "list item description", strict=strict
        )
    if item.action is not None:
        out["action"] = _list_action(item.action)
    return out
