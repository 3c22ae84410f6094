"""What sending and reading messages needs, below both `km.messages` and the batch.

`resources/messages.py` (one send, a history listing) and `_batch/` (many sends,
reconcile reads) both build on these plain functions, so imports point one way:
the batch never imports `Messages`, and `Messages` hands a batch a `MessageWire`.

- `check_ref`, `send_body`: the exact bytes of a `message/v2/send` body.
- `no_key`: the ambiguous error of a send whose success held no message.
- `read_history`: a conversation's messages, newest first (docs/wire.md#messages).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from ._codec import encode
from ._errors import InvalidRequestError, ResponseValidationError
from ._logging import log
from ._metadata import MetadataKey, stringify_metadata
from ._paging import NewestFirstCursor
from ._pipeline.routing import Host, Route
from ._validate import check_id, check_text
from .models._base import UNSET, UnsetType
from .models.conversation import Conversation
from .models.message import Message, MessagePage, SendMessageBody

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from ._pipeline.client import ApiClient
    from .models.conversation import ConversationRef

__all__ = [
    "LIST",
    "SEND",
    "MessageWire",
    "check_ref",
    "no_key",
    "read_history",
    "send_body",
]

SEND: Final = Route("POST", "/rest/ws/message/v2/send", idempotent=False)
LIST: Final = Route("GET", "/rest/ws/message/list", Host.CHAT)
_DEDUPE: Final = MetadataKey.DEDUPE_KEY.value


@dataclass(frozen=True, slots=True)
class MessageWire:
    """What a batch needs of the session: its call pipeline, the sender of items
    that name none, and the clientGroupId -> groupId lookup (cached by the
    session)."""

    client: ApiClient
    sender: str
    group_id: Callable[[ConversationRef], Awaitable[int]]


def check_ref(ref: object) -> int | str:
    """The groupId (int) or clientGroupId (str) a reference names; bad ones raise."""
    if type(ref) is int and ref > 0:  # the common case first
        return ref
    match ref:
        case Conversation():
            return ref.id
        case bool():  # True is an int to Python, never a groupId
            pass
        case int() if ref > 0:
            return ref
        case str():
            return check_id(ref, "conversation reference")
        case _:
            pass
    raise InvalidRequestError(
        f"a conversation reference is a positive int groupId, a str clientGroupId or a "
        f"Conversation, not {ref!r}"
    )


def send_body(
    ref: ConversationRef,
    text: str,
    sender: str,
    metadata: Mapping[str, object] | None,
    *,
    content_type: int | None = None,
    dedupe_key: str | None = None,
) -> bytes:
    """The exact bytes of a `message/v2/send` body; bad input raises first.

    `dedupe_key` (a batch item's, a str) goes in the metadata as `kmDedupeKey`,
    after the caller's keys (in place of one of the same name).
    """
    target = check_ref(ref)
    check_text(text)
    check_id(sender, "sender")
    if dedupe_key is not None:
        meta: dict[str, str] | UnsetType = _with_dedupe_key(metadata, dedupe_key)
    else:
        meta = stringify_metadata(metadata) if metadata is not None else UNSET
    kind = UNSET if content_type is None else content_type
    if isinstance(target, int):
        body = SendMessageBody(
            group_id=target,
            message=text,
            from_user_name=sender,
            metadata=meta,
            content_type=kind,
        )
    else:
        body = SendMessageBody(
            client_group_id=target,
            message=text,
            from_user_name=sender,
            metadata=meta,
            content_type=kind,
        )
    return encode(body)


def _with_dedupe_key(
    metadata: Mapping[str, object] | None, dedupe_key: str
) -> dict[str, str]:
    if not metadata:  # a batch item's common case: nothing to stringify
        return {_DEDUPE: dedupe_key}
    if isinstance(metadata, Mapping):
        metadata = {**metadata, _DEDUPE: dedupe_key}
    return stringify_metadata(metadata)  # (a non-mapping raises there)


def no_key() -> ResponseValidationError:
    """A send whose success envelope held no message: it may have gone out."""
    error = ResponseValidationError("send returned no messageKey", status=200)
    error.ambiguous = True
    return error


async def read_history(
    client: ApiClient,
    group_id: int,
    *,
    acting: str,
    page_size: int = 50,
    skip_read: bool = False,
    max_retries: int | None = None,
    first_attempt: bool = True,
) -> AsyncIterator[Message]:
    """Every message of a conversation, newest first (`GET message/list`), paged
    by the `endTime` cursor (see `_paging.py`): no gaps, no repeats, and a server
    that ignores the cursor ends the listing (logged), never an endless loop."""
    cursor = NewestFirstCursor[Message](_key, _created_at)
    start_index = 0
    while True:
        params: dict[str, str | int] = {
            "groupId": group_id,
            "pageSize": page_size,
            "startIndex": start_index,
        }
        if cursor.end_time is not None:
            params["endTime"] = cursor.end_time
        if skip_read:
            params["skipRead"] = "true"
        page: MessagePage | None = await client.call(
            LIST,
            MessagePage,
            empty=True,
            params=params,
            acting_as=acting,
            max_retries=max_retries,
            first_attempt=first_attempt,
        )
        messages = sorted(page.message, key=_created_at, reverse=True) if page else []
        fresh = cursor.take(messages)
        for message in fresh:
            yield message
        if not fresh and len(messages) < page_size:
            return
        if cursor.stalled:
            log.warning(
                "message/list of group %s: the server sent pages with nothing "
                "new (it ignores endTime/startIndex); listing stopped",
                group_id,
            )
            return
        # A new cursor starts at offset 0; otherwise step through the boundary's
        # millisecond (more than a page of messages can share one).
        start_index = 0 if cursor.moved else start_index + len(messages)


def _key(message: Message) -> str:
    return message.key


def _created_at(message: Message) -> int:
    return message.created_at
