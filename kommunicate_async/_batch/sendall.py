"""The `message/sendall` wire: one message object for up to 50 conversations.

`POST {chat}/rest/ws/message/sendall` with `{"groupIds" | "clientGroupIds": [...],
"messageObject": {"message", "metadata"}}` (Applozic's "Broadcast Message" doc
names `userNames` and `clientGroupIds`, at most 50 of each; Applozic's iOS core
SDK, ALUserClientService.m, sends numeric `groupIds`). The acting sender goes in
`Of-User-Id`, as for the other chat-host calls.

UNCERTAIN (docs/guides/campaigns.md): whether Kommunicate's chat host takes the
`Api-Key` for it (the sources use admin credentials or a user token), whether
`groupIds` works beside `clientGroupIds`, and the reply: the doc says `success`;
it is read tolerantly (plain text, a JSON string or an envelope; an error word or
an error envelope is a refusal, anything else a success).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, Final, cast

import msgspec

from .._errors import APIError, api_error
from .._metadata import MetadataKey, stringify_metadata
from .._pipeline.routing import Host, Route

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ..models.batch import OutgoingMessage

__all__ = [
    "MAX_TARGETS",
    "SENDALL",
    "broadcast_group",
    "check_reply",
    "sendall_body",
]

SENDALL: Final = Route("POST", "/rest/ws/message/sendall", Host.CHAT, idempotent=False)
MAX_TARGETS: Final = 50
"""At most 50 conversations a request (Applozic's doc)."""
_DEDUPE: Final = MetadataKey.DEDUPE_KEY.value
_SORTED: Final = msgspec.json.Encoder(order="sorted")
_ENCODE: Final = msgspec.json.Encoder()
_FAILED: Final = frozenset({"error", "failure", "failed"})


def broadcast_group(item: OutgoingMessage, sender: str) -> str:
    """What items must share to travel in one request: the kind of reference
    (groupId or clientGroupId), the sender, the text and the metadata (keys
    sorted). 24 hex digits; it is also the first part of the dedupe key the
    request carries, which is how a rerun recognises it (`reconcile.py`)."""
    kind = "g" if isinstance(item.conversation, int) else "c"
    material = f"{kind}\x1f{sender}\x1f{item.text}\x1f".encode("utf-8", "surrogatepass")
    if item.metadata:
        try:
            material += _SORTED.encode(item.metadata)
        except (TypeError, ValueError, OverflowError, RecursionError):
            material += repr(item.metadata).encode("utf-8", "backslashreplace")
    return "b" + hashlib.blake2b(material, digest_size=12).hexdigest()


def sendall_body(
    targets: Sequence[int | str],
    text: str,
    metadata: Mapping[str, object] | None,
    dedupe_key: str,
) -> bytes:
    """The exact bytes of one request: the targets, one message object."""
    meta = stringify_metadata({**(metadata or {}), _DEDUPE: dedupe_key})
    field = "groupIds" if isinstance(targets[0], int) else "clientGroupIds"
    return _ENCODE.encode(
        {field: list(targets), "messageObject": {"message": text, "metadata": meta}}
    )


def check_reply(body: bytes | None, status: int = 200) -> None:
    """Read a 2xx reply tolerantly; an error in it is raised.

    Raises:
        APIError: the reply says the request failed (a refusal: nothing sent).
    """
    text = (body or b"").strip()
    if not text:
        return  # an empty success: nothing says otherwise
    if text[:1] not in (b"{", b'"'):
        if text.decode("utf-8", "replace").lower() in _FAILED:
            raise api_error(status, None, "message/sendall answered error")
        return
    try:
        value: object = msgspec.json.decode(text)
    except msgspec.DecodeError:
        return
    if isinstance(value, str) and value.lower() in _FAILED:
        raise api_error(status, None, "message/sendall answered error")
    if isinstance(value, dict):
        _check_envelope(cast("dict[str, Any]", value), status)


def _check_envelope(fields: dict[str, Any], status: int) -> None:
    word = fields.get("status")
    if not (isinstance(word, str) and word.lower() in _FAILED):
        return
    code: str | None = None
    description = "message/sendall answered an error envelope"
    errors = fields.get("errorResponse")
    if isinstance(errors, list) and errors:
        entries = cast("list[object]", errors)
        first = entries[0]
        if isinstance(first, dict):
            entry = cast("dict[str, Any]", first)
            found = entry.get("errorCode")
            code = found if isinstance(found, str) else None
            text = entry.get("description") or entry.get("displayMessage")
            description = text if isinstance(text, str) else description
    raise api_error(status, code, description)


def is_refusal(error: BaseException) -> bool:
    """A definite answer that the request was not taken (a 4xx other than a 429,
    or an error envelope): sending the items one by one is safe."""
    return (
        isinstance(error, APIError)
        and not error.ambiguous
        and error.status != 429
        and error.status < 500
    )


def refuses_endpoint(error: APIError) -> bool:
    """The endpoint itself refused (credentials, permission, no such route):
    later requests would be refused too."""
    return error.status in (401, 403, 404, 405)
