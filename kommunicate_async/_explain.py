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


def _fields(
    params: Mapping[str, str | int] | None, body: object
) -> Mapping[str, object]:
    """Where the subject's id is: the query if it names one, else a JSON object body."""
    fields: Mapping[str, object] = params or {}
    if any(k in fields for k in (*_CONVERSATION_KEYS, *_USER_KEYS)) or not isinstance(
        body, bytes
    ):
        return fields
    try:
        decoded: object = _ANY.decode(body[:65536])
    except (msgspec.DecodeError, RecursionError):
        return fields
    if isinstance(decoded, dict):
        return cast("dict[str, object]", decoded)
    return fields


def _subject(params: Mapping[str, str | int] | None, body: object) -> str | None:
    fields = _fields(params, body)
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


def _refusal(
    error: APIError, subject: str | None, *, by_key: bool
) -> tuple[str, str | None] | None:
    """(what happened, hint) for a call the server refused to act on, else None."""
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
    return None


def _headline(
    error: APIError, subject: str | None, call: str, *, by_key: bool
) -> tuple[str, str | None]:
    """(what happened, hint) in words."""
    refused = _refusal(error, subject, by_key=by_key)
    if refused is not None:
        return refused
    if isinstance(error, NotFoundError):
        return f"{subject or 'the object'} not found", None
    if isinstance(error, RateLimitError):
        return "rate limited (HTTP 429)", "slow down; the session pauses by itself"
    if isinstance(error, ServerError):
        return f"server error (HTTP {error.status}) on {call}", "retry later"
    return "the request failed", None


def _status_part(error: APIError) -> str | None:
    """`HTTP <status>`, unless the headline says it already (or it is a 200)."""
    if error.status == 200 or isinstance(error, ServerError | RateLimitError):
        return None
    return f"HTTP {error.status}"


def _code_part(error: APIError) -> str | None:
    """The server's code and words, once each."""
    if error.description == error.code:
        return error.code
    return ": ".join(p for p in (error.code, error.description) if p)


def _detail(error: APIError, call: str) -> str:
    """The parenthesised detail: call, status, code, request id (those that apply)."""
    parts = (
        None if isinstance(error, ServerError) else call,  # a server error names it
        _status_part(error),
        _code_part(error),
        f"request id {error.request_id}" if error.request_id else None,
    )
    return ", ".join(part for part in parts if part)


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
    detail = _detail(error, call)
    text = f"{headline} ({detail})" if detail else headline
    if error.hint:
        text += f": {error.hint}"
    error.args = (text,)
