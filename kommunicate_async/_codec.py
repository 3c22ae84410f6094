"""One JSON encoder and cached typed decoders, shared by every call.

Replies come in several shapes (docs/wire.md#replies): the
`{status, generatedAt, response}`
envelope, an error envelope (sometimes inside HTTP 200), or a bare body. Which
endpoint is enveloped on which host is UNCERTAIN, so every reply decoder accepts
both, in one pass where msgspec allows it (see `_reply.py`).
"""

from __future__ import annotations

from typing import Any, Final, TypeVar

import msgspec

__all__ = ["decode", "decoder", "decoder_for", "encode", "encode_str"]

T = TypeVar("T")

_ENCODER: Final = msgspec.json.Encoder()
encode: Final = _ENCODER.encode
"""Encode a Struct or builtin to compact JSON bytes (the one shared encoder)."""

_DECODERS: dict[object, msgspec.json.Decoder[Any]] = {}


def encode_str(value: object) -> str:
    """JSON text of `value` as a `str` (for values that travel inside strings)."""
    return _ENCODER.encode(value).decode()


def decoder(tp: type[T]) -> msgspec.json.Decoder[T]:
    """The cached typed decoder for class `tp` (a dict lookup after the first call)."""
    return decoder_for(tp)


def decoder_for(tp: object) -> msgspec.json.Decoder[Any]:
    """The cached decoder for any type expression (`list[User]`, unions, `Any`)."""
    found = _DECODERS.get(tp)
    if found is None:
        found = _DECODERS[tp] = msgspec.json.Decoder(tp)
    return found


def decode(body: bytes | str, tp: type[T]) -> T:
    """Decode `body` as `tp`; raises msgspec.DecodeError / ValidationError."""
    result: T = decoder(tp).decode(body)
    return result
