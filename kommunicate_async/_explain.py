"""Errors a person can act on: what happened, to what, on which call, and what to do.

The pipeline raises an `APIError` with the server's status, code and words; this
adds the call (`method`, `path`: never a query, so never a secret), what it was
about (the conversation or user, read from the query or the JSON body), the
reply's request id, and a hint, and rewrites the message to lead with them:
"conversation 123 not found (GET /rest/ws/group/v2/info, AL-G-01: group not found)".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, cast

import msgspec

from ._errors import (
    AgentBusyError,
    APIError,
    AuthenticationError,
    ConversationClosedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    UploadRefusedError,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["REQUEST_ID_HEADERS", "explain", "request_id_of"]

REQUEST_ID_HEADERS: Final = ("X-Kong-Request-Id", "X-Request-Id")
"""Where a reply carries its request id: Kong 3.5+ sends `X-Kong-Request-Id` on every
reply (Kong docs "Debug requests"); other proxies send `X-Request-Id`."""

_CONVERSATION_KEYS: Final = ("groupId", "clientGroupId")
_USER_KEYS: Final = ("userId", "ofUserId")
_ID_LIMIT: Final = 80
_ANY: Final = msgspec.json.Decoder(Any)


def request_id_of(headers: Mapping[str, str] | None) -> str | None:
    """The reply's request id, if it has one (a short printable value)."""
    if headers is None:
        return None
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value and len(value) <= 200 and value.isprintable():
            return value
    return None


def _subject(params: Mapping[str, str | int] | None, body: object) -> str | None:
    fields: Mapping[str, object] = params or {}
    if not any(k in fields for k in (*_CONVERSATION_KEYS, *_USER_KEYS)) and isinstance(
        body, bytes
    ):
        try:
            decoded: object = _ANY.decode(body[:65536])
        except (msgspec.DecodeError, RecursionError):
            decoded = None
        if isinstance(decoded, dict):
            fields = cast("dict[str, object]", decoded)
    for key in _CONVERSATION_KEYS:
        value = fields.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool):
            return f"conversation {_short(value)}"
    for key in _USER_KEYS:
        value = fields.get(key)
        if isinstance(value, str) and value:
            return f"user {_short(value)}"
    return None


def _short(value: str | int) -> str:
    text = str(value)
    return text if len(text) <= _ID_LIMIT else text[:_ID_LIMIT] + "…"


def _headline(
    error: APIError, subject: str | None, call: str, *, by_key: bool
) -> tuple[str, str | None]:
    """(what happened, hint) in words."""
    about = subject or "the object"
    if isinstance(error, ConversationClosedError):
        return f"{subject or 'the conversation'} is closed", (
            "reopen it or start a new conversation; nothing was sent"
        )
    if isinstance(error, AgentBusyError):
        return "the agent is busy with another conversation", "nothing was sent"
    if isinstance(error, UploadRefusedError):
        return f"the upload was refused ({error.code})", "the file was not stored"
    if isinstance(error, AuthenticationError):
        if by_key:
            return "the API key was refused", "check KOMMUNICATE_API_KEY (api_key=)"
        return "the credentials were refused", (
            "check chat_auth= or log the user in again (users.login)"
        )
    if isinstance(error, PermissionDeniedError):
        return "permission denied", "these credentials may not do this"
    if isinstance(error, NotFoundError):
        return f"{about} not found", None
    if isinstance(error, RateLimitError):
        return "rate limited (HTTP 429)", "slow down; the session pauses by itself"
    if isinstance(error, ServerError):
        return f"server error (HTTP {error.status}) on {call}", "retry later"
    return "the request failed", None


def explain(
    error: APIError,
    *,
    method: str,
    path: str,
    params: Mapping[str, str | int] | None = None,
    body: object = None,
    by_key: bool = True,
) -> None:
    """Fill `error`'s call, subject and hint, and rewrite its message."""
    if error.method is not None:  # explained already (an inner call's error)
        return
    error.method, error.path = method, path
    error.subject = _subject(params, body)
    call = f"{method} {path}"
    headline, hint = _headline(error, error.subject, call, by_key=by_key)
    error.hint = error.hint or hint
    detail = ", ".join(
        part
        for part in (
            None if isinstance(error, ServerError) else call,
            None
            if error.status == 200 or isinstance(error, ServerError | RateLimitError)
            else f"HTTP {error.status}",
            ": ".join(p for p in (error.code, error.description) if p)
            if error.description != error.code
            else error.code,
            f"request id {error.request_id}" if error.request_id else None,
        )
        if part
    )
    text = f"{headline} ({detail})" if detail else headline
    if error.hint:
        text += f": {error.hint}"
    error.args = (text,)
