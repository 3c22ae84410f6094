"""Turn a reply body into a typed result or the right exception.

Kommunicate replies arrive enveloped (`{"status", "generatedAt", "response"}`) or
bare, and which endpoint does which is UNCERTAIN (docs/wire.md#replies). For a
Struct result we build, once per type, a twin Struct holding the result's fields
*and* the envelope's, so either shape decodes in a single msgspec pass; for list and
scalar results a `Envelope[T] | T` union does the same.
"""

from __future__ import annotations

from typing import Any, Final, Generic, TypeVar, cast

import msgspec

from .._codec import decoder, decoder_for
from .._errors import (
    APIError,
    ConfigurationError,
    ResponseValidationError,
    api_error,
)
from ..models._base import UNSET, Envelope, ErrorItem, LooseEnvelope

__all__ = [
    "JSON_START",
    "REPLY_DECODERS",
    "NoResult",
    "ReplyDecoder",
    "error_from_body",
    "excerpt",
    "is_html",
    "reply_decoder",
]

T = TypeVar("T")

_ENVELOPE_FIELDS: Final = ("status", "generated_at", "response", "error_response")
_EXCERPT_LIMIT: Final = 200


def excerpt(body: bytes) -> str:
    """A short single-line piece of a body, safe to put in an error message."""
    text = body[: _EXCERPT_LIMIT * 2].decode("utf-8", "replace")
    text = " ".join(text.split())
    return text[:_EXCERPT_LIMIT] + ("…" if len(text) > _EXCERPT_LIMIT else "")


JSON_START: Final = (b"{", b"[", b'"')
"""First bytes of the JSON bodies the API sends (object, array, string)."""


def is_html(body: bytes) -> bool:
    """A markup page (a proxy's or load balancer's error page), not JSON.

    The one HTML test: JSON never starts with "<". Checked on every reply, so the
    common JSON case costs one slice and one comparison.
    """
    if body[:1] in JSON_START:
        return False
    return body.lstrip()[:1] == b"<"


def _item_details(item: object) -> tuple[str | None, str | None]:
    """(code, text) of one `errorResponse` item, typed or loose."""
    if isinstance(item, ErrorItem):
        fields: dict[str, object] = {
            "errorCode": item.error_code,
            "description": item.description,
            "displayMessage": item.display_message,
        }
    elif isinstance(item, dict):
        fields = cast("dict[str, object]", item)
    else:
        return None, None
    code = fields.get("errorCode")
    text = fields.get("description") or fields.get("displayMessage")
    return (
        code if isinstance(code, str) else None,
        text if isinstance(text, str) and text else None,
    )


def _error_details(items: object, response: object) -> tuple[str | None, str]:
    """(code, description) from `errorResponse` items, joined the way the SDKs do."""
    code: str | None = None
    texts: list[str] = []
    listed = cast("list[object]", items) if isinstance(items, list) else []
    for item in listed:
        item_code, text = _item_details(item)
        code = code or item_code
        if text:
            texts.append(text)
    if not texts and isinstance(response, str) and response:
        texts.append(response)
    return code, "; ".join(texts) or "error"


def error_from_body(
    status: int, body: bytes, *, retry_after: float | None = None
) -> APIError:
    """The `APIError` for a failed reply, using whatever details the body offers."""
    code: str | None = None
    if is_html(body):
        description = "HTML error page instead of a JSON reply (service unavailable)"
    else:
        try:
            loose: LooseEnvelope = decoder(LooseEnvelope).decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError):
            description = excerpt(body)
        else:
            code, description = _loose_details(loose, body)
    return api_error(status, code, description, retry_after=retry_after)


def _loose_details(loose: LooseEnvelope, body: bytes) -> tuple[str | None, str]:
    """(code, description) from an error body of any of the shapes seen."""
    code: str | None = None
    if loose.error_response is not None or isinstance(loose.response, str):
        code, description = _error_details(loose.error_response, loose.response)
    else:
        description = next(
            (c for c in (loose.message, loose.error) if isinstance(c, str) and c),
            None,
        ) or excerpt(body)
    if code is None and isinstance(loose.code, str):
        code = loose.code
    return code, description


class NoResult:
    """Result type of calls whose reply only matters if it is an error.

    User and group updates, status changes, read marks and member changes answer
    "success", an envelope, plain text or
    nothing (docs/wire.md#replies): anything but an error is accepted.
    """


def _check_no_result(body: bytes, http_status: int) -> None:
    if not body.strip():
        return
    try:
        value: object = decoder_for(Any).decode(body)
    except msgspec.DecodeError:
        if body.strip().lower() == b"error":
            raise api_error(http_status, None, "error") from None
        return
    if isinstance(value, dict):
        fields = cast("dict[str, Any]", value)
        status = fields.get("status")
        if isinstance(status, str) and status.lower() == "error":
            raise api_error(
                http_status,
                *_error_details(fields.get("errorResponse"), fields.get("response")),
            )


class ReplyDecoder(Generic[T]):
    """Decodes one result type from enveloped or bare replies."""

    __slots__ = (
        "_bare_names",
        "_decoder",
        "_direct",
        "_enveloped",
        "_result_type",
        "_struct_twin",
    )

    def __init__(self, result_type: Any) -> None:
        self._result_type: Any = result_type
        self._struct_twin = False
        self._bare_names: tuple[str, ...] = ()
        self._decoder: msgspec.json.Decoder[Any]
        self._direct: msgspec.json.Decoder[Any] | None = None
        self._enveloped: msgspec.json.Decoder[Any] | None = None
        if result_type is NoResult or result_type is bytes:
            # bytes: the body as received (plain-text replies, `km.request(raw=)`)
            self._decoder = decoder_for(Any)
            return
        if isinstance(result_type, type) and issubclass(result_type, msgspec.Struct):
            fields = msgspec.structs.fields(result_type)
            names = tuple(f.name for f in fields)
            if not set(names) & set(_ENVELOPE_FIELDS):
                self._struct_twin = True
                self._bare_names = names
                self._decoder = decoder_for(_twin(result_type, fields))
                # Fast paths: one typed decode of the shape the first bytes promise;
                # the twin (either shape in one pass) only when that guess fails. A
                # type with no required field would "decode" an envelope as an empty
                # result, so it always takes the twin.
                if any(f.required for f in fields):
                    self._direct = decoder_for(result_type)
                    self._enveloped = decoder_for(Envelope[result_type])
                return
        self._decoder = decoder_for(_envelope_or_bare(result_type))

    def decode(self, body: bytes, http_status: int = 200) -> T | None:
        """The result, or None for a success envelope without a response.

        Raises:
            APIError: the body is an error envelope (even inside HTTP 200).
            ResponseValidationError: the body is not JSON of an expected shape.
        """
        if self._result_type is NoResult:
            _check_no_result(body, http_status)
            return None
        if self._result_type is bytes:
            return cast("T", body)
        if not body or body.isspace():  # an empty 2xx: nothing to decode
            return None
        if self._direct is not None and self._enveloped is not None:
            try:
                if body.startswith(b'{"status":'):
                    envelope = self._enveloped.decode(body)
                    return self._unwrap(
                        envelope.status,
                        envelope.response,
                        envelope.error_response,
                        http_status,
                    )
                result: T = self._direct.decode(body)  # not `cast`: a call a reply
                return result
            except msgspec.ValidationError:
                pass  # another key order, or the other shape: the twin decides
            except msgspec.DecodeError:
                return self._not_json(body, http_status)
        return self._decode_general(body, http_status)

    def _decode_general(self, body: bytes, http_status: int) -> T | None:
        """The one decoder for every shape (when the twins could not tell)."""
        try:
            obj = self._decoder.decode(body)
        except msgspec.ValidationError as exc:  # a DecodeError subclass: test it first
            raise self._shape_error(body, http_status, exc) from exc
        except msgspec.DecodeError:
            return self._not_json(body, http_status)
        if self._struct_twin:
            status = obj.status
            if status is UNSET:
                return self._from_bare(obj, http_status)
            return self._unwrap(status, obj.response, obj.error_response, http_status)
        if isinstance(obj, Envelope):
            envelope = cast("Envelope[T]", obj)
            return self._unwrap(
                envelope.status, envelope.response, envelope.error_response, http_status
            )
        return cast("T", obj)

    def _unwrap(
        self, status: str, response: Any, items: Any, http_status: int
    ) -> T | None:
        if status.lower() == "error":
            code, description = _error_details(items, response)
            raise api_error(http_status, code, description)
        result: T | None = None if response is UNSET else response  # not `cast`
        return result

    def _from_bare(self, obj: Any, http_status: int) -> T:
        values = {n: v for n in self._bare_names if (v := getattr(obj, n)) is not UNSET}
        try:
            return cast("T", self._result_type(**values))
        except TypeError as exc:  # a required field is missing
            raise ResponseValidationError(
                f"reply lacks fields of {self._result_type.__name__}: {exc}",
                status=http_status,
            ) from exc

    def _not_json(self, body: bytes, http_status: int) -> T:
        # Some legacy GETs answer plain `success` / `error` (docs/wire.md#replies).
        word = body.strip().decode("utf-8", "replace").lower()
        if self._result_type is str and word == "success":
            return cast("T", word)
        if word == "error":
            raise api_error(http_status, None, "error")
        if _looks_encrypted(body):
            raise ConfigurationError(
                "the reply is an encrypted (AES, base64) body: this Kommunicate app "
                "has encryption on, which kommunicate_async cannot read; turn it off "
                "for the app (docs/wire.md#users)"
            )
        raise ResponseValidationError(
            f"reply is not valid JSON: {excerpt(body)!r}", status=http_status
        )

    def _shape_error(
        self, body: bytes, http_status: int, exc: msgspec.ValidationError
    ) -> KommunicateShapeError:
        loose: LooseEnvelope | None
        try:
            loose = decoder(LooseEnvelope).decode(body)
        except msgspec.ValidationError:  # valid JSON but not an object
            loose = None
        if loose is None and (code := _bare_word(body)) is not None:
            return api_error(http_status, code, code)
        if (
            loose is not None
            and isinstance(loose.status, str)
            and loose.status.lower() == "error"
        ):
            code, description = _error_details(loose.error_response, loose.response)
            return api_error(http_status, code, description)
        return ResponseValidationError(
            f"unexpected reply shape for {_type_name(self._result_type)}: {exc}",
            status=http_status,
        )


KommunicateShapeError = APIError | ResponseValidationError

_BASE64: Final = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
)


def _looks_encrypted(body: bytes) -> bool:
    """An AES reply of an app with encryption on: one base64 run, in 16-byte blocks
    (Android HttpRequestUtils decrypts such bodies)."""
    text = body.strip()
    return len(text) >= 24 and len(text) % 4 == 0 and set(text) <= _BASE64


# `message/send` refuses with a bare JSON string (WEB mck-sidebox-1.0.js L5738-5800).
_BARE_WORDS: Final = frozenset({"CONVERSATION_CLOSED", "BUSY_WITH_OTHER"})


def _bare_word(body: bytes) -> str | None:
    """The known refusal word of a bare JSON string reply, else None."""
    try:
        value: object = decoder_for(Any).decode(body)
    except msgspec.DecodeError:
        return None
    return value if isinstance(value, str) and value in _BARE_WORDS else None


def _envelope_or_bare(result_type: Any) -> Any:
    """`Envelope[T] | T`: one decoder for either shape of a list or scalar result."""
    return Envelope[result_type] | result_type


def _type_name(tp: object) -> str:
    return getattr(tp, "__name__", None) or repr(tp)


def _twin(
    result_type: type[msgspec.Struct], fields: tuple[msgspec.structs.FieldInfo, ...]
) -> type:
    """A Struct with `result_type`'s fields (all optional) plus the envelope's."""
    spec: list[tuple[str, Any, Any]] = [
        (
            f.name,
            f.type | msgspec.UnsetType,
            msgspec.field(default=UNSET, name=f.encode_name),
        )
        for f in fields
    ]
    spec += [
        (
            "status",
            str | msgspec.UnsetType,
            msgspec.field(default=UNSET, name="status"),
        ),
        (
            "response",
            result_type | None | msgspec.UnsetType,
            msgspec.field(default=UNSET),
        ),
        (
            "error_response",
            list[ErrorItem] | None | msgspec.UnsetType,
            msgspec.field(default=UNSET, name="errorResponse"),
        ),
    ]
    return msgspec.defstruct(f"{result_type.__name__}Reply", spec, kw_only=True)


REPLY_DECODERS: dict[object, ReplyDecoder[Any]] = {}


def reply_decoder(result_type: Any) -> ReplyDecoder[Any]:
    """The cached `ReplyDecoder` for `result_type`."""
    found = REPLY_DECODERS.get(result_type)
    if found is None:
        found = REPLY_DECODERS[result_type] = ReplyDecoder(result_type)
    return found
