"""Input checks that run before any request is built.

Every caller-supplied id, text and header value passes through here, so bad input
is an `InvalidRequestError` raised before a byte is sent. The common, valid cases
take a fast path: these run on every message of a million-message batch.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from ._errors import InvalidRequestError

__all__ = [
    "check_encodable",
    "check_header_value",
    "check_id",
    "check_ids",
    "check_int",
    "check_text",
]

# CR/LF would let a value inject headers; other C0/DEL controls corrupt ids and logs.
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
_HEADER_SAFE: Final = re.compile(r"[\x20-\x7e]+")


def check_encodable(value: str, what: str) -> str:
    """`value` if it encodes to UTF-8; a lone surrogate ("\\udc00") does not, and
    yarl would silently drop it from a query: "vip\\udc00-42" would name "vip-42"."""
    if value.isascii():
        return value
    try:
        value.encode()
    except UnicodeEncodeError as exc:
        raise InvalidRequestError(
            f"{what} is not valid Unicode text: a lone surrogate at position "
            f"{exc.start} (decode with errors='surrogateescape'?)"
        ) from None
    return value


def check_id(value: object, what: str) -> str:
    """A non-empty id string without control characters, valid UTF-8."""
    # Printable and not all space: the common case in two C-level string tests
    # (a lone surrogate is not printable, so it always takes the slow path).
    if type(value) is str and value.isprintable() and value and not value.isspace():
        return value
    if not isinstance(value, str):
        raise InvalidRequestError(f"{what} must be a str, not {type(value).__name__}")
    if not value.strip():
        raise InvalidRequestError(f"{what} must not be empty")
    if _CONTROL.search(value):
        raise InvalidRequestError(
            f"{what} must not contain control characters (CR, LF, …)"
        )
    return check_encodable(value, what)


def check_header_value(value: object, what: str) -> str:
    """An id that travels in an HTTP header: printable ASCII only."""
    text = check_id(value, what)
    if not text.isascii() or not _HEADER_SAFE.fullmatch(text):
        raise InvalidRequestError(
            f"{what} must be printable ASCII to travel in a header"
        )
    return text


def check_ids(values: object, what: str, *, allow_empty: bool = False) -> list[str]:
    """Ids from a str (one id) or an iterable of str; order kept, no repeats."""
    if isinstance(values, str):
        items: Iterable[object] = [values]
    elif isinstance(values, Iterable):
        items = values  # pyright: ignore[reportUnknownVariableType]
    else:
        raise InvalidRequestError(
            f"{what} must be a list of str, not {type(values).__name__}"
        )
    seen: dict[str, None] = {}
    for item in items:  # pyright: ignore[reportUnknownVariableType]
        seen[check_id(item, f"an entry of {what}")] = None
    if not seen and not allow_empty:
        raise InvalidRequestError(f"{what} must not be empty")
    return list(seen)


def check_text(value: object, what: str = "text") -> str:
    """Message text: a str with something besides white space, no NUL, valid UTF-8."""
    if type(value) is str and value and not value.isspace() and "\x00" not in value:
        # the common case, without allocating a stripped copy
        return value if value.isascii() else check_encodable(value, what)
    if not isinstance(value, str):
        raise InvalidRequestError(f"{what} must be a str, not {type(value).__name__}")
    if not value.strip():
        raise InvalidRequestError(f"{what} must not be empty")
    raise InvalidRequestError(f"{what} must not contain NUL characters")


def check_int(value: object, what: str, *, minimum: int | None = None) -> int:
    """An int (bool refused: True is an int to Python but never a valid id or size)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequestError(f"{what} must be an int, not {type(value).__name__}")
    if minimum is not None and value < minimum:
        raise InvalidRequestError(f"{what} must be at least {minimum}, got {value}")
    return value
