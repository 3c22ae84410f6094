"""The base of every wire model, and the reply envelope."""

from __future__ import annotations

from typing import Any, Generic, TypeAlias, TypeVar

import msgspec

__all__ = ["JSONValue", "Model", "UNSET", "UnsetType"]

T = TypeVar("T")

UNSET = msgspec.UNSET
UnsetType = msgspec.UnsetType

JSONValue: TypeAlias = (
    "str | int | float | bool | None | list[JSONValue] | dict[str, JSONValue]"
)
"""Any value JSON can hold (what `Conversation.info` values decode to)."""


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
