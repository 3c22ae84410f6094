"""Metadata keys, and the one place where metadata values become strings.

Kommunicate metadata is `dict[str, str]` on the wire (docs/wire.md#metadata): nested
values
must be JSON *strings*. Callers pass natural Python values; this module does the
stringifying, so no caller ever calls `json.dumps` for us.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any, Final, cast

import msgspec

from ._codec import decode, encode
from ._errors import InvalidRequestError

__all__ = ["MetadataKey", "merge_info", "parse_info", "stringify_metadata"]


class MetadataKey(StrEnum):
    """Metadata keys Kommunicate and its SDKs read (docs/wire.md#metadata)."""

    # group (conversation) metadata
    CONVERSATION_STATUS = "CONVERSATION_STATUS"
    CONVERSATION_ASSIGNEE = "CONVERSATION_ASSIGNEE"
    SKIP_ROUTING = "SKIP_ROUTING"
    TEAM_ID = "KM_TEAM_ID"
    CONVERSATION_TITLE = "KM_CONVERSATION_TITLE"
    ORIGINAL_TITLE = "KM_ORIGINAL_TITLE"
    CONVERSATION_INFO = "conversationMetadata"
    CHAT_CONTEXT = "KM_CHAT_CONTEXT"
    SKIP_BOT_EVENT = "SKIP_BOT_EVENT"
    HIDE = "HIDE"
    # message metadata
    SKIP_BOT = "skipBot"
    CONTENT_TYPE = "contentType"
    TEMPLATE_ID = "templateId"
    PAYLOAD = "payload"
    ASSIGN_TO = "KM_ASSIGN_TO"
    ASSIGN_TEAM = "KM_ASSIGN_TEAM"
    CATEGORY = "category"
    # this library's own key
    DEDUPE_KEY = "kmDedupeKey"
    """The batch sender's idempotency key, read back when reconciling a send."""


MAX_DEPTH: Final = 32
"""Deepest nesting a metadata value may have: far beyond any real payload, and
short of the recursion limits of Python and msgspec (a cycle is refused too)."""


def _reject_non_finite(where: str, value: object, depth: int = 0) -> None:
    """Refuse what JSON cannot say: NaN and ±inf (msgspec writes them as `null`),
    cycles, and nesting deeper than `MAX_DEPTH`."""
    _walk(where, value, depth, set())


def _walk(where: str, value: object, depth: int, path: set[int]) -> None:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidRequestError(f"{where}: {value!r} has no JSON form")
        return
    if isinstance(value, Mapping):
        items: Iterable[object] = cast("Mapping[object, object]", value).values()
    elif isinstance(value, list | tuple | set | frozenset):
        items = cast("Iterable[object]", value)
    else:
        return
    if depth >= MAX_DEPTH:
        raise InvalidRequestError(f"{where}: nested more than {MAX_DEPTH} levels deep")
    marker = id(cast("object", value))
    if marker in path:
        raise InvalidRequestError(f"{where}: holds itself (a cycle has no JSON form)")
    path.add(marker)
    for item in items:
        _walk(where, item, depth + 1, path)
    path.discard(marker)


def _stringify_value(key: str, value: object) -> str:
    if type(value) is str:  # the common case, no encoder call
        return value
    _reject_non_finite(f"metadata[{key!r}]", value)
    try:
        encoded = encode(value)
    except InvalidRequestError as exc:
        raise InvalidRequestError(f"metadata[{key!r}]: {exc}") from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidRequestError(
            f"metadata[{key!r}]: cannot encode {type(value).__name__} as JSON ({exc})"
        ) from None
    if encoded[:1] == b'"':  # str subclasses, enums, datetimes, UUIDs, Decimals
        text: str = decode(encoded, str)
        return text
    return encoded.decode()


def _plain_strings(plain: dict[object, object]) -> dict[str, str] | None:
    """A copy of a dict of non-empty str keys to str values; None if it is not."""
    fast: dict[str, str] = {}
    for key, value in plain.items():
        if type(key) is not str or type(value) is not str or not key:
            return None
        fast[key] = value
    return fast


def stringify_metadata(
    metadata: Mapping[str, object] | None, what: str = "metadata"
) -> dict[str, str]:
    """Metadata as the wire wants it: str keys, str values, nested values as JSON.

    `True` -> "true", `3` -> "3", `{"a": 1}` -> '{"a":1}'; None values are left out.

    Raises:
        InvalidRequestError: not a mapping, a non-str key, or a value that JSON
            cannot encode (NaN, an arbitrary object).
    """
    if metadata is None:
        return {}
    if type(metadata) is dict:  # fast path: a plain dict of str -> str
        fast = _plain_strings(cast("dict[object, object]", metadata))
        if fast is not None:
            return fast
    if not isinstance(metadata, Mapping):
        raise InvalidRequestError(
            f"{what} must be a mapping, not {type(metadata).__name__}"
        )
    out: dict[str, str] = {}
    general = cast("Mapping[object, object]", metadata)  # checked item by item below
    for key, value in general.items():
        if not isinstance(key, str) or not key:
            raise InvalidRequestError(f"{what} keys must be non-empty str, got {key!r}")
        if value is not None:
            out[str(key)] = _stringify_value(str(key), value)
    return out


def parse_info(raw: str | None) -> dict[str, Any]:
    """Decode the `conversationMetadata` JSON string; anything but an object is {}."""
    if not raw:
        return {}
    try:
        value = decode(raw, dict[str, Any])
    except (msgspec.DecodeError, msgspec.ValidationError):
        return {}
    return value


def merge_info(raw: str | None, changes: Mapping[str, object]) -> str:
    """`conversationMetadata` with `changes` merged in (None deletes a key)."""
    if not isinstance(changes, Mapping):
        raise InvalidRequestError(
            f"info must be a mapping, not {type(changes).__name__}"
        )
    merged: dict[str, Any] = parse_info(raw)
    items: Iterable[tuple[object, object]] = changes.items()
    for key, value in items:
        if not isinstance(key, str) or not key:
            raise InvalidRequestError(f"info keys must be non-empty str, got {key!r}")
        if value is None:
            merged.pop(str(key), None)
        else:
            merged[str(key)] = value
    _reject_non_finite("info", merged)
    try:
        return encode(merged).decode()
    except InvalidRequestError as exc:
        raise InvalidRequestError(f"info: {exc}") from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidRequestError(f"info cannot be encoded as JSON: {exc}") from None
