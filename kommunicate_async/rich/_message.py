"""`RichMessage`: a template's text and metadata, and how each side wants them.

Kommunicate reads a rich message from metadata: `contentType: "300"`, a
`templateId` and a `payload`. The same message travels two ways (docs/wire.md has
the details):

- through `message/v2/send`, metadata is `dict[str, str]`, so `payload` (and every
  other nested value) is a JSON *string*: `RichMessage.send_metadata()`;
- in a custom-bot reply, `payload` is real JSON: `RichMessage.bot_reply()`.

A builder validates once and freezes the result; neither form can be broken later.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from .._codec import decode, encode
from .._compat import override
from .._errors import InvalidRequestError
from .._metadata import stringify_metadata

__all__ = ["RICH_CONTENT_TYPE", "HTML_CONTENT_TYPE", "RichMessage", "TemplateId"]

RICH_CONTENT_TYPE: Final = "300"
"""`metadata.contentType` of every template message."""
HTML_CONTENT_TYPE: Final = 3
"""The send body's top-level `contentType` for HTML text."""


class TemplateId(StrEnum):
    """`metadata.templateId` values (the Android SDK's KmRichMessageFactory)."""

    BUTTONS = "3"
    SUGGESTED_REPLIES = "6"
    LIST = "7"
    FAQ = "8"
    IMAGE = "9"
    CARD = "10"
    MIXED_BUTTONS = "11"
    FORM = "12"
    VIDEO = "14"


@dataclass(frozen=True, slots=True)
class RichMessage:
    """One rich message: its text and its metadata, frozen.

    Build one with the functions of `kommunicate_async.rich`; pass it to
    `km.messages.send(conversation, message)` or return it from a bot handler.

    Attributes:
        text: the message text shown with the template.
        html: True when `text` is HTML (sent as `contentType: 3`; in a bot reply
            `messageType: "html"`).
    """

    text: str
    _metadata_json: bytes = field(repr=False)
    html: bool = False

    def __post_init__(self) -> None:
        # `RichMessage(text, {...})` reads as natural but is not the constructor:
        # refuse it now, by name, rather than fail later with a bare TypeError.
        if not isinstance(self.text, str):
            raise InvalidRequestError(
                f"text must be a str, not {type(self.text).__name__}"
            )
        if not isinstance(self._metadata_json, bytes):
            raise InvalidRequestError(
                "RichMessage is made by the builders of kommunicate_async.rich or by "
                "RichMessage.from_metadata(text, metadata), not RichMessage(text, "
                f"{type(self._metadata_json).__name__})"
            )
        if not isinstance(self.html, bool):
            raise InvalidRequestError(f"html must be a bool, not {self.html!r}")

    @classmethod
    def from_metadata(
        cls, text: str, metadata: Mapping[str, object], *, html: bool = False
    ) -> RichMessage:
        """A rich message from text and metadata with real (unstringified) values."""
        if not isinstance(text, str):
            raise InvalidRequestError(f"text must be a str, not {type(text).__name__}")
        stringify_metadata(metadata)  # the same checks a send would make, now
        return cls(text, encode(dict(metadata)), html)

    @property
    def metadata(self) -> dict[str, Any]:
        """The metadata with real JSON values (a fresh copy each time)."""
        value: dict[str, Any] = decode(self._metadata_json, dict[str, Any])
        return value

    @property
    def template_id(self) -> str | None:
        """The template id, or None (auto-suggest and HTML carry none)."""
        found = self.metadata.get("templateId")
        return found if isinstance(found, str) else None

    def send_metadata(self) -> dict[str, str]:
        """Metadata for `message/v2/send`: every nested value stringified once."""
        return stringify_metadata(self.metadata)

    def bot_reply(self) -> dict[str, Any]:
        """One item of a custom-bot reply array: `payload` stays real JSON."""
        reply: dict[str, Any] = {"message": self.text, "metadata": self.metadata}
        if self.html:
            reply["messageType"] = "html"
        return reply

    @override
    def __str__(self) -> str:
        return self.text

    @override
    def __repr__(self) -> str:
        html = ", html=True" if self.html else ""
        return (
            f"RichMessage(text={self.text!r}, template_id={self.template_id!r}{html})"
        )


def merge_metadata(
    message: RichMessage, extra: Mapping[str, object] | None
) -> dict[str, object]:
    """The rich message's metadata with `extra` added; a conflicting key raises."""
    merged: dict[str, object] = dict(message.metadata)
    if extra is None:
        return merged
    if not isinstance(extra, Mapping):
        raise InvalidRequestError(
            f"metadata must be a mapping, not {type(extra).__name__}"
        )
    items: Mapping[Any, object] = extra
    for key, value in items.items():
        if not isinstance(key, str) or not key:
            raise InvalidRequestError(f"metadata keys must be non-empty str: {key!r}")
        if key in merged and merged[key] != value:
            raise InvalidRequestError(
                f"metadata[{key!r}] conflicts with the rich message's own {key!r}"
            )
        merged[key] = value
    return merged
