"""Tolerant calls for the endpoints only Kommunicate's own SDKs use.

Their reply shapes vary by host (docs/wire.md#replies): the chat host's
`{status, generatedAt, response}` envelope or a bare body, the app server's
`{code, data}` or `{code, response}`, and plain `success` / `error` text. None of
them is in a public doc, so every one of these calls reads the reply as plain JSON
first, unwraps whichever shape came, and only then converts it to its model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

import msgspec
from multidict import MultiDict

from .._errors import ResponseValidationError, api_error
from .._pipeline.reply import excerpt

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from .._pipeline.call_state import Deadline
    from .._pipeline.routing import Route
    from ._base import Context

__all__ = ["call_loose", "convert", "repeated", "unwrap"]

T = TypeVar("T")

_FAILED: Final = frozenset({"error", "failure", "failed"})


def repeated(
    single: Mapping[str, str | int] | None, name: str, values: Iterable[str | int]
) -> MultiDict[str | int]:
    """A query with `name` repeated once per value (`keys=a&keys=b`), as the
    Android SDK builds `roleNameList`, `keys`, `groupIds` and `status`."""
    query: MultiDict[str | int] = MultiDict(single or {})
    for value in values:
        query.add(name, value)
    return query


def unwrap(value: object) -> object:
    """The payload inside whichever envelope came; an error envelope raises."""
    if not isinstance(value, dict):
        return value
    fields = cast("dict[str, Any]", value)
    status = fields.get("status")
    if _failed(status) or _failed(fields.get("code")):
        raise api_error(200, *_details(fields))
    return _payload(fields, status)


def _failed(word: object) -> bool:
    """An envelope's `status` or `code` saying the call failed (any case)."""
    return isinstance(word, str) and word.lower() in _FAILED


def _payload(fields: dict[str, Any], status: object) -> object:
    """The body of a successful envelope: the chat host's `response`, the app
    server's `data` (else `response`); anything else is the payload itself."""
    if isinstance(status, str) and "response" in fields:
        return fields["response"]
    if "code" in fields:
        if "data" in fields:
            return fields["data"]
        if "response" in fields:
            return fields["response"]
    return fields


def _details(fields: dict[str, Any]) -> tuple[str | None, str]:
    code, texts = _error_response(fields.get("errorResponse"))
    if not texts:
        # No itemised errors: the envelope's own text, first that is set.
        fallback = _fallback_text(fields)
        if fallback is not None:
            texts.append(fallback)
    if code is None and isinstance(fields.get("code"), str):
        code = cast("str", fields["code"])
    return code, "; ".join(texts) or "error"


def _error_response(items: object) -> tuple[str | None, list[str]]:
    """The first `errorCode` and every description of an `errorResponse` list."""
    code: str | None = None
    texts: list[str] = []
    if not isinstance(items, list):
        return code, texts
    for item in cast("list[object]", items):
        if not isinstance(item, dict):
            continue
        entry = cast("dict[str, object]", item)
        if code is None and isinstance(entry.get("errorCode"), str):
            code = cast("str", entry["errorCode"])
        text = entry.get("description") or entry.get("displayMessage")
        if isinstance(text, str) and text:
            texts.append(text)
    return code, texts


def _fallback_text(fields: dict[str, Any]) -> str | None:
    for name in ("message", "error", "response", "data"):
        text = fields.get(name)
        if isinstance(text, str) and text:
            return text
    return None


def convert(value: object, tp: type[T] | Any, what: str) -> T:
    """`value` as `tp`, lenient about "1" for 1; a mismatch is a clear error."""
    try:
        return cast("T", msgspec.convert(value, tp, strict=False))
    except msgspec.ValidationError as exc:
        shown = excerpt(msgspec.json.encode(value)[:400])
        raise ResponseValidationError(
            f"unexpected {what} reply ({exc}): {shown!r}", status=200
        ) from None


async def call_loose(
    ctx: Context,
    route: Route,
    tp: type[T] | Any,
    what: str,
    *,
    params: Mapping[str, str | int] | None = None,
    body: bytes | None = None,
    acting_as: str | None = None,
    deadline: Deadline | None = None,
) -> T | None:
    """Send `route`, unwrap the reply, convert it to `tp`; None for an empty reply."""
    raw: object = await ctx.client.call(
        route,
        cast("type[Any]", Any),
        empty=True,
        params=params,
        body=body,
        acting_as=acting_as,
        deadline=deadline,
    )
    if raw is None:
        return None
    inner = unwrap(raw)
    if inner is None:
        return None
    return cast("T", convert(inner, tp, what))


async def call_text(
    ctx: Context,
    route: Route,
    *,
    params: Mapping[str, str | int] | None = None,
    acting_as: str | None = None,
) -> None:
    """A legacy call answering `success` / `error` text or an envelope around it."""
    word: str | None = await ctx.client.call(
        route, str, empty=True, params=params, acting_as=acting_as
    )
    if isinstance(word, str) and word.strip().lower() in _FAILED:
        raise api_error(200, None, word.strip())
