"""One JSON encoder and cached typed decoders, shared by every call.

Replies come in several shapes (docs/wire.md#replies): the
`{status, generatedAt, response}`
envelope, an error envelope (sometimes inside HTTP 200), or a bare body. Which
endpoint is enveloped on which host is UNCERTAIN, so every reply decoder accepts
both, in one pass where msgspec allows it (see `_pipeline/reply.py`).
"""

from __future__ import annotations

from typing import Any, Final, TypeVar

import msgspec

from ._errors import InvalidRequestError

__all__ = ["decode", "decoder", "decoder_for", "encode", "encode_str"]

T = TypeVar("T")

_ENCODER: Final = msgspec.json.Encoder()
_encode: Final = _ENCODER.encode


def encode(value: object) -> bytes:
    """Encode a Struct or builtin to compact JSON bytes (the one shared encoder).

    Raises:
        InvalidRequestError: a str that is not valid Unicode (a lone surrogate),
            or nesting too deep for the encoder: bad input, before any I/O.
    """
    try:
        return _encode(value)
    except UnicodeEncodeError as exc:
        raise InvalidRequestError(
            "the request holds text that is not valid Unicode (a lone surrogate at "
            f"position {exc.start} of a string)"
        ) from None
    except RecursionError:
        raise InvalidRequestError(
            "the request is nested too deeply (or holds a cycle) to encode as JSON"
        ) from None


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
