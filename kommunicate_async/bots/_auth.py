"""Checking that a request really comes from Kommunicate.

- The message webhook sends `Authentication: Basic <base64(token)>`, with the token
  set in the dashboard. The header is *Authentication*, not Authorization.
- The custom bot sends one header whose name and value are set in the dashboard.

Several accepted values allow a rotation. Values are compared with
`hmac.compare_digest`, every candidate is compared (no early exit that would tell
which one nearly matched), and no value ever appears in a repr, a log or a reply.
"""

from __future__ import annotations

import base64
import hmac
from typing import TYPE_CHECKING, Final, cast

from .._compat import override
from .._errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = ["HeaderCheck", "WEBHOOK_HEADER", "bot_header_check", "webhook_check"]

WEBHOOK_HEADER: Final = "Authentication"


class HeaderCheck:
    """One header that must carry one of a set of values."""

    __slots__ = ("_expected", "header")

    def __init__(self, header: str, expected: Iterable[bytes]) -> None:
        self.header = header
        self._expected: tuple[bytes, ...] = tuple(expected)
        if not self._expected:
            raise ConfigurationError(f"no accepted value for the {header} header")

    def accepts(self, headers: Mapping[str, str]) -> bool:
        """True when the header is present and equals one accepted value."""
        received = _get(headers, self.header)
        if received is None:
            return False
        given = received.encode("utf-8", "surrogateescape")
        matched = False
        for expected in self._expected:  # all of them, whatever matched first
            matched |= hmac.compare_digest(given, expected)
        return matched

    @override
    def __repr__(self) -> str:
        return f"HeaderCheck({self.header!r}, <{len(self._expected)} value(s)>)"


def _get(headers: Mapping[str, str], name: str) -> str | None:
    found = headers.get(name)
    if found is not None:
        return found
    lowered = name.lower()  # a plain dict (ASGI, tests) is not case-insensitive
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def _values(value: str | Iterable[str], what: str) -> list[str]:
    values: list[object] = [value] if isinstance(value, str) else list(value)
    checked: list[str] = []
    for item in values:
        if not isinstance(item, str) or not item:
            raise ConfigurationError(f"{what} must be non-empty strings")
        if any(c in item for c in "\r\n\x00"):
            raise ConfigurationError(f"{what} must not contain CR, LF or NUL")
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
    return HeaderCheck(
        checked_name, (v.encode() for v in _values(values, "the bot header's value"))
    )
