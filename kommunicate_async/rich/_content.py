"""Reading a template back: what `Message.rich` returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from .._codec import decoder_for
from ._message import RICH_CONTENT_TYPE

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["RichContent", "read_rich"]


@dataclass(frozen=True, slots=True)
class RichContent:
    """The template a message carries, its payload decoded from its string.

    Attributes:
        template_id: `"6"` (suggested replies), `"10"` (cards), ... (see `TemplateId`).
        payload: the decoded payload: a list for most templates, an object for
            lists (7); None when the string is not JSON.
        raw_payload: the payload string as stored.
    """

    template_id: str
    payload: Any
    raw_payload: str


def read_rich(metadata: Mapping[str, str]) -> RichContent | None:
    """The rich template in message metadata, or None for a plain message."""
    if metadata.get("contentType") != RICH_CONTENT_TYPE:
        return None
    raw = metadata.get("payload", "")
    payload: Any
    try:
        payload = decoder_for(Any).decode(raw) if raw else None
    except (msgspec.DecodeError, RecursionError):  # broken: readable as raw text
        payload = None
    return RichContent(metadata.get("templateId", ""), payload, raw)
