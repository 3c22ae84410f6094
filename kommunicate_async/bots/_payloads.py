"""What Kommunicate POSTs to us: custom-bot requests and message-webhook events.

Both are decoded tolerantly (unknown fields skipped, optional fields may be absent,
numbers may arrive as numeric strings) but never blindly: a body that is not a JSON
object, lacks `key` or `groupId`, is over 1 MiB or nested deeper than 32 levels is an
`InvalidPayloadError` before any handler sees it (docs/wire.md#bots).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, cast

import msgspec

from .._codec import decoder_for
from .._errors import ConfigurationError, InvalidPayloadError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable

    from ..models.user import User

__all__ = [
    "MAX_BODY",
    "MAX_DEPTH",
    "Attachment",
    "BotRequest",
    "WebhookFile",
    "WebhookMessage",
    "parse_bot_request",
    "parse_webhook_message",
]

MAX_BODY: Final = 1024 * 1024
"""Bytes; Kommunicate's requests are a few KiB."""
MAX_DEPTH: Final = 32
"""Nesting levels of arrays and objects."""


def _too_deep(value: object) -> bool:
    """True past MAX_DEPTH levels of arrays and objects (iterative: no recursion,
    and it stops at the first branch that is too deep)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Iterable[object] = cast("dict[str, object]", node).values()
        elif isinstance(node, list):
            children = cast("list[object]", node)
        else:
            continue
        if depth > MAX_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def decode_body(body: bytes, tp: type[Any]) -> Any:
    """Size first, then one typed msgspec pass (C speed, linear, whatever the body),
    then depth, walked only when the body has enough brackets to be too deep."""
    if not isinstance(body, bytes | bytearray | memoryview):
        raise InvalidPayloadError(f"body must be bytes, not {type(body).__name__}")
    if len(body) > MAX_BODY:
        raise InvalidPayloadError(f"body is {len(body)} bytes, over {MAX_BODY}")
    raw = bytes(body)
    try:
        decoded: object = decoder_for(tp).decode(raw)
    except RecursionError:  # msgspec's own limit, far past ours
        raise InvalidPayloadError(
            f"body is nested deeper than {MAX_DEPTH} levels"
        ) from None
    except msgspec.ValidationError as exc:
        _check_depth(raw)  # a deep body is refused as such, whatever its shape
        raise InvalidPayloadError(f"unexpected body: {exc}") from None
    except msgspec.DecodeError as exc:
        raise InvalidPayloadError(f"body is not JSON: {exc}") from None
    _check_depth(raw)
    return decoded


def _check_depth(raw: bytes) -> None:
    """Fewer opening brackets than MAX_DEPTH cannot nest deeper: the common case
    costs two C-speed counts instead of a walk. Unknown fields are skipped by the
    typed decode, so the walk reads the body again as plain JSON."""
    if raw.count(b"{") + raw.count(b"[") <= MAX_DEPTH:
        return
    try:
        tree: object = decoder_for(Any).decode(raw)
    except RecursionError:
        raise InvalidPayloadError(
            f"body is nested deeper than {MAX_DEPTH} levels"
        ) from None
    if _too_deep(tree):
        raise InvalidPayloadError(f"body is nested deeper than {MAX_DEPTH} levels")


_DIGITS_MAX: Final = 19
"""Digits of a numeric string: int64 range, and far below Python's 4300-digit cap."""


def _digits(value: str) -> int | None:
    """An ASCII-digit string as an int (a leading "-" allowed); None otherwise.

    `str.isdigit` is True for "²" and "١٢٣", which `int()` then refuses or reads
    as another number: only ASCII digits are a number on this wire.
    """
    text = value.strip()
    body = text[1:] if text.startswith("-") else text
    if not body or len(body) > _DIGITS_MAX or not (body.isascii() and body.isdigit()):
        return None
    return int(text)


def _as_int(value: object, what: str) -> int:
    if isinstance(value, bool):
        raise InvalidPayloadError(f"{what} must be a number, not {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        found = _digits(value)
        if found is not None:
            return found
    raise InvalidPayloadError(f"{what} must be a number, not {value!r:.40}")


def _optional_int(value: object, what: str = "a number") -> int | None:
    """A tolerant optional number: absent or non-numeric text is None, but digits
    that are not ASCII ("³", "١٢٣") are refused rather than misread."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        found = _digits(value)
        if found is None and value.strip().lstrip("-").isnumeric():
            raise InvalidPayloadError(f"{what} must be ASCII digits, not {value!r:.40}")
        return found
    return None


def _lenient_int(value: object) -> int | None:
    """`_optional_int` for lazily read fields (a handler's property): never raises."""
    try:
        return _optional_int(value)
    except InvalidPayloadError:
        return None


def _text(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _require_key(raw: _Wire) -> str:
    if not isinstance(raw.key, str) or not raw.key:
        raise InvalidPayloadError("the request has no message key")
    if raw.group_id is None:
        raise InvalidPayloadError("the request has no groupId")
    return raw.key


class _Wire(msgspec.Struct, rename="camel"):
    """Every field either payload may carry, as loosely typed as the wire is."""

    key: Any = None
    group_id: Any = None
    bot_id: Any = None
    sender: Any = msgspec.field(default=None, name="from")
    message: Any = None
    metadata: Any = None
    content_type: Any = None
    application_key: Any = None
    application_id: Any = None
    source: Any = None
    event_name: Any = None
    created_at: Any = None
    client_group_id: Any = None
    group_name: Any = None
    time_stamp: Any = None
    file: Any = None


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file or a location sent to the bot (`KM_CHAT_CONTEXT.attachments`)."""

    type: str
    """A MIME type ("image/png") or "location"."""
    url: str | None = None
    name: str | None = None
    size: int | None = None
    lat: str | None = None
    lon: str | None = None


@dataclass(frozen=True, slots=True)
class BotRequest:
    """One user message as Kommunicate POSTs it to a custom bot.

    Attributes:
        key: the message's unique key: what redeliveries are recognised by.
        group_id: the conversation's groupId (a numeric string is accepted).
        bot_id: the bot the message was routed to.
        sender: the sender's userId (`from`).
        text: the message text (`message`).
        metadata: the message metadata as sent (values may be objects, e.g.
            `KM_CHAT_CONTEXT`).
        event: `eventName`, e.g. "WELCOME" or "KOMMUNICATE_MEDIA_EVENT"; None for a
            plain message.
    """

    key: str
    group_id: int
    bot_id: str = ""
    sender: str = ""
    text: str = ""
    metadata: dict[str, Any] = field(default_factory=dict[str, Any])
    content_type: int | None = None
    application_key: str | None = None
    """`applicationKey`, or `applicationId` where that is what arrived."""
    source: int | None = None
    event: str | None = None
    created_at: int | None = None
    users: Callable[[], Awaitable[User]] | None = field(
        default=None, repr=False, compare=False
    )
    """How `user()` fetches (bound by the app for each handler run)."""

    async def user(self) -> User:
        """The sender's details (`users.get`), cached per conversation for a minute
        in the app's state store (`bots/_user.py`).

        Raises:
            ConfigurationError: the request is not being handled by a `BotApp`
                with a session.
        """
        if self.users is None:
            raise ConfigurationError(
                "request.user() works inside a BotApp handler with a KommunicateSession"
            )
        return await self.users()

    @property
    def chat_context(self) -> dict[str, Any]:
        """`KM_CHAT_CONTEXT`: an object on the wire; a JSON string is read too."""
        found = self.metadata.get("KM_CHAT_CONTEXT")
        if isinstance(found, str):
            try:
                found = decoder_for(Any).decode(found)
            except (msgspec.DecodeError, RecursionError):
                return {}
        return cast("dict[str, Any]", found) if isinstance(found, dict) else {}

    @property
    def attachments(self) -> list[Attachment]:
        """Files and locations the user sent (a media event's chat context)."""
        raw = self.chat_context.get("attachments")
        found: list[Attachment] = []
        for item in cast("list[object]", raw) if isinstance(raw, list) else []:
            if not isinstance(item, dict):
                continue
            entry = cast("dict[str, Any]", item)
            payload = entry.get("payload")
            data = cast("dict[str, Any]", payload) if isinstance(payload, dict) else {}
            found.append(
                Attachment(
                    type=_text(entry.get("type")),
                    url=_optional_text(data.get("url")),
                    name=_optional_text(data.get("name")),
                    size=_lenient_int(data.get("size")),
                    lat=_optional_text(data.get("lat")),
                    lon=_optional_text(data.get("lon")),
                )
            )
        return found

    @property
    def form_data(self) -> dict[str, Any]:
        """The fields of a submitted form (`KM_CHAT_CONTEXT.formData`), or {}."""
        found = self.chat_context.get("formData")
        return cast("dict[str, Any]", found) if isinstance(found, dict) else {}


def _optional_text(value: object) -> str | None:
    return None if value is None else _text(value)


def _metadata(value: object) -> dict[str, Any]:
    return dict(cast("dict[str, Any]", value)) if isinstance(value, dict) else {}


def parse_bot_request(body: bytes) -> BotRequest:
    """Decode a custom-bot request body; `InvalidPayloadError` if unusable."""
    raw = decode_body(body, _Wire)
    if not isinstance(raw, _Wire):  # pragma: no cover - the decoder's type
        raise InvalidPayloadError("body is not a JSON object")
    key = _require_key(raw)
    app = raw.application_key if raw.application_key else raw.application_id
    return BotRequest(
        key=key,
        group_id=_as_int(raw.group_id, "groupId"),
        bot_id=_text(raw.bot_id),
        sender=_text(raw.sender),
        text=_text(raw.message),
        metadata=_metadata(raw.metadata),
        content_type=_optional_int(raw.content_type, "contentType"),
        application_key=_optional_text(app),
        source=_optional_int(raw.source, "source"),
        event=_text(raw.event_name) or None,
        created_at=_optional_int(raw.created_at, "createdAt"),
    )


@dataclass(frozen=True, slots=True)
class WebhookFile:
    """The attachment of a webhook message."""

    name: str | None = None
    url: str | None = None
    content_type: str | None = None
    size: int | None = None
    thumbnail_url: str | None = None


@dataclass(frozen=True, slots=True)
class WebhookMessage:
    """One message of the account, as the message webhook POSTs it.

    Attributes:
        metadata: values are strings on the wire; any other scalar is turned into
            its JSON text, so handlers always see `dict[str, str]`.
    """

    key: str
    group_id: int
    sender: str = ""
    client_group_id: str | None = None
    group_name: str | None = None
    text: str = ""
    timestamp: int | None = None
    """Epoch milliseconds (`timeStamp`)."""
    file: WebhookFile | None = None
    metadata: dict[str, str] = field(default_factory=dict[str, str])
    content_type: int | None = None


def _string_values(value: object) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, item in _metadata(value).items():
        if item is None:
            continue
        out[str(key)] = item if isinstance(item, str) else _json_text(item)
    return out


def _json_text(value: object) -> str:
    return msgspec.json.encode(value).decode()


def _file(value: object) -> WebhookFile | None:
    if not isinstance(value, dict):
        return None
    data = cast("dict[str, Any]", value)
    return WebhookFile(
        name=_optional_text(data.get("name")),
        url=_optional_text(data.get("url")),
        content_type=_optional_text(data.get("contentType")),
        size=_optional_int(data.get("size"), "file.size"),
        thumbnail_url=_optional_text(data.get("thumbnailUrl")),
    )


def parse_webhook_message(body: bytes) -> WebhookMessage:
    """Decode a message-webhook body; `InvalidPayloadError` if unusable."""
    raw = decode_body(body, _Wire)
    if not isinstance(raw, _Wire):  # pragma: no cover - the decoder's type
        raise InvalidPayloadError("body is not a JSON object")
    key = _require_key(raw)
    return WebhookMessage(
        key=key,
        group_id=_as_int(raw.group_id, "groupId"),
        sender=_text(raw.sender),
        client_group_id=_optional_text(raw.client_group_id),
        group_name=_optional_text(raw.group_name),
        text=_text(raw.message),
        timestamp=_optional_int(raw.time_stamp, "timeStamp"),
        file=_file(raw.file),
        metadata=_string_values(raw.metadata),
        content_type=_optional_int(raw.content_type, "contentType"),
    )
