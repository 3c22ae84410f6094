"""The base of every wire model, and the reply envelope."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeAlias, TypeVar

import msgspec

__all__ = [
    "UNSET",
    "JSONValue",
    "Model",
    "UnsetType",
    "WireMetadata",
    "normalize_metadata",
]

T = TypeVar("T")

UNSET = msgspec.UNSET
UnsetType = msgspec.UnsetType

JSONValue: TypeAlias = (
    "str | int | float | bool | None | list[JSONValue] | dict[str, JSONValue]"
)
"""Any value JSON can hold (what `Conversation.info` values decode to)."""


if TYPE_CHECKING:
    WireMetadata: TypeAlias = dict[str, str]
else:
    # What msgspec decodes: any JSON value, or null. The web widget writes -1,
    # true and false as JSON numbers and booleans into group metadata
    # (docs/wire.md#metadata); `normalize_metadata` turns every value into the
    # string the REST API would have sent, so readers always see dict[str, str].
    WireMetadata = dict[str, Any] | None


def _as_text(value: object) -> str:
    if isinstance(value, str):
        return value
    return msgspec.json.encode(value).decode()  # true, -1, 1.5, {"a":1}


def normalize_metadata(obj: msgspec.Struct) -> None:
    """Make `obj.metadata` a dict of str (its `__post_init__` calls this)."""
    meta: dict[str, object] | None = getattr(obj, "metadata")  # noqa: B009
    if meta is not None:
        for value in meta.values():
            if type(value) is not str:
                break
        else:
            return  # the common case: already all strings
        meta = {k: _as_text(v) for k, v in meta.items() if v is not None}
    msgspec.structs.force_setattr(obj, "metadata", meta or {})


class Model(
    msgspec.Struct, rename="camel", omit_defaults=True, frozen=True, kw_only=True
):
    """Base of every wire payload: snake_case in Python, camelCase on the wire.

    Unknown keys are skipped on decode, so newer server payloads still decode.
    """


class ErrorItem(Model, frozen=True, kw_only=True):
    """One entry of an error envelope's `errorResponse` list."""

    error_code: str | None = None
    description: str | None = None
    display_message: str | None = None


class Envelope(Model, Generic[T], frozen=True, kw_only=True):
    """`{"status": "success"|"error", "generatedAt": ms, "response": T}`."""

    status: str
    generated_at: int | None = None
    response: T | None = None
    error_response: list[ErrorItem] | None = None


class LooseEnvelope(Model, frozen=True, kw_only=True):
    """Any JSON object read for error details only; every field optional."""

    status: Any = None
    response: Any = None
    error_response: Any = None
    message: Any = None
    error: Any = None
    code: Any = None
