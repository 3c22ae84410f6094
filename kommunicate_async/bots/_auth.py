"""Checking that a request really comes from Kommunicate, from its headers alone.

- The message webhook sends `Authentication: Basic <base64(token)>`, with the token
  set in the dashboard. The header is *Authentication*, not Authorization.
- The custom bot sends one header whose name and value are set in the dashboard.

Several accepted values allow a rotation. Values are compared as bytes with
`hmac.compare_digest`, every candidate is compared (no early exit that would tell
which one nearly matched), and no value ever appears in a repr, a log or a reply.

Configured values must be visible ASCII (inner spaces allowed): HTTP servers hand
non-ASCII header bytes over differently (aiohttp decodes UTF-8, ASGI gives raw
bytes), so a non-ASCII token would work on one adapter and not the other. A header
sent more than once is refused whatever its copies say: servers disagree on which
copy wins.
"""

from __future__ import annotations

import base64
import hmac
from typing import TYPE_CHECKING, Final, cast

from .._compat import override
from .._errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "WEBHOOK_HEADER",
    "HeaderCheck",
    "bot_header_check",
    "header_values",
    "webhook_check",
]

WEBHOOK_HEADER: Final = "Authentication"
_TCHAR: Final = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)


class HeaderCheck:
    """One header that must carry one of a set of values, exactly once."""

    __slots__ = ("_expected", "header", "lower")

    def __init__(self, header: str, expected: Iterable[bytes]) -> None:
        self.header = header
        self.lower = header.lower()
        """The name as ASGI servers and HTTP/2 hand it over."""
        self._expected: tuple[bytes, ...] = tuple(expected)
        if not self._expected:
            raise ConfigurationError(f"no accepted value for the {header} header")

    def accepts(self, headers: Mapping[str, str]) -> bool:
        """True when the header is present once and equals one accepted value.

        `headers` may be a multidict (aiohttp's `request.headers`: every copy of
        the header is seen) or a plain mapping (names compared in any case).
        """
        return self.accepts_values(
            [
                v.encode("utf-8", "surrogateescape")
                for v in header_values(headers, self.lower)
            ]
        )

    def accepts_values(self, values: Sequence[bytes]) -> bool:
        """True when `values` (every copy of the header received) is exactly one
        accepted value."""
        if len(values) != 1:
            return False
        given = values[0]
        matched = False
        for expected in self._expected:  # all of them, whatever matched first
            matched |= hmac.compare_digest(given, expected)
        return matched

    @override
    def __repr__(self) -> str:
        return f"HeaderCheck({self.header!r}, <{len(self._expected)} value(s)>)"


def header_values(headers: Mapping[str, str], lowered: str) -> list[str]:
    """Every value of header `lowered` (a multidict's copies, or any case in a dict)."""
    getall = getattr(headers, "getall", None)
    if getall is not None:  # a case-insensitive multidict: every copy
        return cast("list[str]", getall(lowered, []))
    return [value for key, value in headers.items() if key.lower() == lowered]


def _values(value: str | Iterable[str], what: str) -> list[str]:
    values: list[object] = [value] if isinstance(value, str) else list(value)
    checked: list[str] = []
    for item in values:
        if not isinstance(item, str) or not item:
            raise ConfigurationError(f"{what} must be non-empty strings")
        if not (item.isascii() and item.isprintable()) or item != item.strip():
            raise ConfigurationError(
                f"{what} must be visible ASCII (inner spaces allowed): "
                "HTTP servers do not agree on other bytes in a header"
            )
        checked.append(item)
    return checked


def webhook_check(tokens: str | Iterable[str]) -> HeaderCheck:
    """The message webhook's `Authentication: Basic base64(token)` check."""
    return HeaderCheck(
        WEBHOOK_HEADER,
        (
            b"Basic " + base64.b64encode(t.encode())
            for t in _values(tokens, "webhook_token")
        ),
    )


def bot_header_check(header: tuple[str, str | Iterable[str]]) -> HeaderCheck:
    """The custom bot's dashboard-configured header (name, value or values)."""
    given: object = header
    if not isinstance(given, tuple) or len(cast("tuple[object, ...]", given)) != 2:
        raise ConfigurationError("bot_header is a (name, value) tuple")
    name, values = header
    (checked_name,) = _values(name, "the bot header's name")
    if not set(checked_name) <= _TCHAR:
        raise ConfigurationError("the bot header's name must be an HTTP token")
    return HeaderCheck(
        checked_name, (v.encode() for v in _values(values, "the bot header's value"))
    )
