"""Checks every builder shares: text, URLs, the documented length limits."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import Final, TypeVar
from urllib.parse import urlsplit

from .._errors import InvalidRequestError
from .._validate import check_text

T = TypeVar("T")

__all__ = [
    "LIMITS",
    "RichTextWarning",
    "check_items",
    "check_label",
    "check_url",
    "frozen_items",
]

LIMITS: Final = {
    "card title": 16,
    "card subtitle": 56,
    "card description": 99,
    "list header": 75,
    "list item title": 32,
    "list item description": 35,
}
"""Characters the widget shows before cutting text off (Kommunicate's
actionable-messages docs). Longer text is sent, but a warning says so."""


class RichTextWarning(UserWarning):
    """Text longer than the widget shows; `strict=True` makes it an error."""


def check_label(value: object, what: str, *, strict: bool = False) -> str:
    """Non-empty text without NUL, within its documented limit (if it has one)."""
    text = check_text(value, what)
    limit = LIMITS.get(what)
    if limit is not None and len(text) > limit:
        message = f"{what} is {len(text)} characters; the widget shows {limit}"
        if strict:
            raise InvalidRequestError(message)
        warnings.warn(message, RichTextWarning, stacklevel=4)
    return text


def check_url(value: object, what: str, *, https_only: bool = False) -> str:
    """An absolute http(s) URL; `https_only` where user data travels to it.

    `javascript:`, `data:` and relative URLs are refused: a button must never run
    code in the widget or post a user's form to an unknown place.
    """
    if not isinstance(value, str):
        raise InvalidRequestError(
            f"{what} must be a str URL, not {type(value).__name__}"
        )
    try:
        parts = urlsplit(value)
    except ValueError as exc:
        raise InvalidRequestError(f"{what} is not a URL: {exc}") from None
    allowed = ("https",) if https_only else ("http", "https")
    if parts.scheme.lower() not in allowed or not parts.netloc:
        needed = "an https:// URL" if https_only else "an absolute http(s) URL"
        raise InvalidRequestError(f"{what} must be {needed}, not {value!r}")
    if any(c in value for c in "\r\n\t\x00 "):
        raise InvalidRequestError(f"{what} must not contain white space or NUL")
    return value


def check_items(items: Iterable[T], what: str) -> list[T]:
    """A non-empty list from an iterable (a str is not a list of items)."""
    if isinstance(items, str | bytes) or not isinstance(items, Iterable):
        raise InvalidRequestError(f"{what} must be a list, not {type(items).__name__}")
    found: list[T] = list(items)
    if not found:
        raise InvalidRequestError(f"{what} must not be empty")
    return found


def frozen_items(items: object, what: str) -> tuple[object, ...]:
    """Any sequence (a list, a tuple, ...) stored as a tuple, so a frozen builder
    field stays frozen; a str or a non-sequence is refused."""
    if isinstance(items, str | bytes) or not isinstance(items, Sequence):
        raise InvalidRequestError(
            f"{what} must be a list or tuple, not {type(items).__name__}"
        )
    found: Sequence[object] = items  # pyright: ignore[reportUnknownVariableType]
    return tuple(found)
