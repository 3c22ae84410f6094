"""Reading a hand-written template (a JSON file) back into a checked `RichMessage`.

The accepted shape is one bot-reply item: `{"message": ..., "metadata": {...}}`,
with `payload` as real JSON or as a JSON string (as `message/v2/send` carries it).
A string that is not valid JSON is refused: Kommunicate's own published Send
Message example has one, and the widget shows nothing for it.
"""

from __future__ import annotations

from typing import Any, Final, cast

import msgspec

from .._codec import decoder_for
from .._errors import InvalidRequestError
from ._checks import check_url
from ._message import RICH_CONTENT_TYPE, RichMessage, TemplateId

__all__ = ["load_rich"]

_JSON: Final = decoder_for(Any)
_LIST_PAYLOAD: Final = frozenset({TemplateId.LIST.value})
_FORM_KINDS: Final = frozenset(
    {
        "text",
        "textarea",
        "password",
        "checkbox",
        "radio",
        "hidden",
        "date",
        "time",
        "datetime-local",
        "dropdown",
        "submit",
    }
)


def load_rich(document: bytes | str) -> RichMessage:
    """A `RichMessage` from JSON text; every problem is an `InvalidRequestError`."""
    reply, text, metadata = _reply_parts(document)
    if metadata.get("contentType") == RICH_CONTENT_TYPE:
        metadata["payload"] = _check_template(metadata)
    elif "KM_AUTO_SUGGESTION" not in metadata and not reply.get("messageType"):
        raise InvalidRequestError(
            'not a rich message: metadata.contentType is not "300" and there is no '
            "KM_AUTO_SUGGESTION"
        )
    html = bool(reply.get("messageType") == "html")
    return RichMessage.from_metadata(text or " ", metadata, html=html)


def _reply_parts(document: bytes | str) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """(the reply object, its message, a copy of its metadata), checked."""
    try:
        value: object = _JSON.decode(document)
    except (msgspec.DecodeError, RecursionError) as exc:
        raise InvalidRequestError(f"not valid JSON: {exc}") from None
    items = _array(value)
    reply = _object(items[0] if items is not None and len(items) == 1 else value)
    if reply is None:
        raise InvalidRequestError('a rich message is an object {"message", "metadata"}')
    text: object = reply.get("message", "")
    found = _object(reply.get("metadata"))
    if found is None:
        raise InvalidRequestError('"metadata" must be an object')
    if not isinstance(text, str):
        raise InvalidRequestError('"message" must be a string')
    return reply, text, dict(found)


def _array(value: object) -> list[object] | None:
    """`value` as a JSON array, or None."""
    return cast("list[object]", value) if isinstance(value, list) else None


def _object(value: object) -> dict[str, Any] | None:
    """`value` as a JSON object, or None (keeps strict type checkers informed)."""
    return cast("dict[str, Any]", value) if isinstance(value, dict) else None


def _check_template(metadata: dict[str, Any]) -> object:
    template = metadata.get("templateId")
    known = {t.value for t in TemplateId}
    if template not in known:
        raise InvalidRequestError(
            f"templateId {template!r} is not one of {sorted(known, key=int)}"
        )
    payload = _payload(metadata.get("payload"))
    if template in _LIST_PAYLOAD:
        found = _object(payload)
        if not found:
            raise InvalidRequestError(
                f"template {template} needs payload as a non-empty object"
            )
        return found
    items = _array(payload)
    if not items:
        raise InvalidRequestError(
            f"template {template} needs payload as a non-empty array"
        )
    if template == TemplateId.FORM.value:
        _check_form(items)
    elif template in (TemplateId.BUTTONS.value, TemplateId.SUGGESTED_REPLIES.value):
        for raw in items:
            _check_button(template, raw)
    return items


def _payload(payload: object) -> object:
    """The payload, decoded if it came as a JSON string."""
    if not isinstance(payload, str):
        return payload
    try:
        return _JSON.decode(payload)
    except (msgspec.DecodeError, RecursionError) as exc:
        raise InvalidRequestError(
            f"payload is a string but not valid JSON: {exc}"
        ) from None


def _check_button(template: object, raw: object) -> None:
    item = _object(raw)
    if item is None:
        raise InvalidRequestError(f"template {template}: items must be objects")
    if item.get("type") == "link":
        check_url(item.get("url"), "a link button's url")
    elif not (item.get("title") or item.get("name")):
        raise InvalidRequestError(f"template {template}: an item has no title/name")


def _field_name(kind: object, data: dict[str, Any]) -> str:
    key = data.get("name") or data.get("label")
    if not isinstance(key, str) or not key:
        raise InvalidRequestError(f"form: a {kind} field has no name or label")
    return key


def _check_form(payload: list[object]) -> None:
    seen: set[str] = set()
    for raw in payload:
        item = _object(raw)
        if item is None or item.get("type") not in _FORM_KINDS:
            raise InvalidRequestError(f"form: unknown field {raw!r}")
        data = _object(item.get("data", item))
        if data is None or item["type"] == "submit":
            continue
        key = _field_name(item["type"], data)
        if key in seen:
            raise InvalidRequestError(f"form: duplicate field name {key!r}")
        seen.add(key)
        if item["type"] in ("radio", "checkbox", "dropdown") and not data.get(
            "options"
        ):
            raise InvalidRequestError(f"form: {item['type']} {key!r} has no options")
