"""Rich messages: typed builders for every Kommunicate template.

    from kommunicate_async import rich

    message = rich.suggested_replies("Did that help?", ["Yes", "No"])
    await km.messages.send(conversation, message)      # payload sent as a string
    return message                                     # from a bot handler: real JSON

Every builder validates before anything is sent (`InvalidRequestError`) and
returns a frozen `RichMessage`. Text longer than the widget shows warns with
`RichTextWarning` (or raises, `strict=True`).
"""

from __future__ import annotations

from .._public import claim
from ._buttons import (
    LinkButton,
    QuickReply,
    auto_suggest,
    html,
    link_buttons,
    submit_button,
    suggested_replies,
)
from ._cards import Button, Card, Link, ListItem, Submit, card, carousel, item_list
from ._checks import LIMITS, RichTextWarning
from ._content import RichContent, read_rich
from ._faq import faq, mixed_buttons
from ._forms import Choice, Field, FormField, FormSubmit, Hidden, Options, form
from ._lint import load_rich
from ._media import Image, Video, images, video
from ._message import RichMessage, TemplateId

__all__ = [
    "LIMITS",
    "Button",
    "Card",
    "Choice",
    "Field",
    "FormField",
    "FormSubmit",
    "Hidden",
    "Image",
    "Link",
    "LinkButton",
    "ListItem",
    "Options",
    "QuickReply",
    "RichContent",
    "RichMessage",
    "RichTextWarning",
    "Submit",
    "TemplateId",
    "Video",
    "auto_suggest",
    "card",
    "carousel",
    "faq",
    "form",
    "html",
    "images",
    "item_list",
    "link_buttons",
    "load_rich",
    "mixed_buttons",
    "read_rich",
    "submit_button",
    "suggested_replies",
    "video",
]

claim(__name__, globals())  # reprs and tracebacks read the public path
