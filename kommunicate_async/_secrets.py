"""The secrets a session knows, and the one place they are cut out of text.

Every error that carries server text (an error body, an unreadable reply, a
transport failure's message) passes through `Secrets.redact*` first: the API key,
every logged-in user's JWT and device key, chat-host passwords and the passwords of
recent logins never reach an exception, a batch result or a checkpoint, whatever
the reply's status and however the server echoes them (raw or JSON-escaped).
"""

from __future__ import annotations

from collections import deque
from typing import Final

__all__ = ["REDACTED", "Secrets"]

REDACTED: Final = "[redacted]"
_REDACTED_BYTES: Final = REDACTED.encode()
_MIN_LENGTH: Final = 4
"""Shorter values are not worth cutting out (and would mangle ordinary text)."""
_RETIRED: Final = 256
"""Replaced tokens and one-off passwords kept for redaction, newest last."""


def _forms(value: str) -> tuple[str, ...]:
    """The value as sent, and as a JSON string would carry it."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("/", "\\/")
    plain_json = value.replace("\\", "\\\\").replace('"', '\\"')
    return tuple(dict.fromkeys((value, plain_json, escaped)))


class Secrets:
    """Values that must never appear in an error's text."""

    __slots__ = ("_lasting", "_retired", "_sorted")

    def __init__(self) -> None:
        self._lasting: dict[str, None] = {}
        self._retired: deque[str] = deque(maxlen=_RETIRED)
        self._sorted: tuple[list[str], list[bytes]] | None = None
        """The secrets longest first, as text and bytes: sorted once per change,
        not on every error (an outage raises many)."""

    def add(self, value: str | None, *, lasting: bool = True) -> None:
        """Remember `value`; `lasting=False` keeps it among the recent ones only."""
        if not value or len(value) < _MIN_LENGTH:
            return
        self._sorted = None
        for form in _forms(value):
            if lasting:
                self._lasting[form] = None
            elif form not in self._retired:
                self._retired.append(form)

    def retire(self, value: str | None) -> None:
        """`value` is no longer in use (a refreshed token) but may still be echoed."""
        if value and value in self._lasting:
            self._sorted = None
            for form in _forms(value):
                self._lasting.pop(form, None)
        self.add(value, lasting=False)

    def _all(self) -> tuple[list[str], list[bytes]]:
        found = self._sorted
        if found is None:
            # Longest first: a secret that contains another is cut out whole.
            text = sorted({*self._lasting, *self._retired}, key=len, reverse=True)
            found = self._sorted = (text, [t.encode() for t in text])
        return found

    def found_in(self, body: bytes) -> bool:
        """Whether any secret occurs in `body`."""
        return any(secret in body for secret in self._all()[1])

    def redact_bytes(self, body: bytes) -> bytes:
        """`body` with every secret replaced by "[redacted]"."""
        for secret in self._all()[1]:
            if secret in body:
                body = body.replace(secret, _REDACTED_BYTES)
        return body

    def scrub(self, error: BaseException) -> None:
        """Cut secrets out of `error`'s text and str attributes, in place (for
        text the server escaped once more than the body shows)."""
        error.args = tuple(
            self.redact(a) if isinstance(a, str) else a for a in error.args
        )
        for name, value in list(vars(error).items()):
            if isinstance(value, str):
                setattr(error, name, self.redact(value))

    def redact(self, text: str) -> str:
        """`text` with every secret replaced by "[redacted]"."""
        for secret in self._all()[0]:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text
