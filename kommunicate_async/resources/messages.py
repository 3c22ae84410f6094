"""`km.messages`: send one message, read a conversation's history."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .._client import Host, Route
from .._codec import encode
from .._errors import ResponseValidationError
from .._metadata import stringify_metadata
from .._validate import check_id, check_int, check_text
from ..models._base import UNSET
from ..models.message import Message, MessagePage, SendMessageBody, SentMessage
from ._base import Resource, check_ref
from ._paging import NewestFirstCursor

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

    from ..models.conversation import ConversationRef

__all__ = ["Messages", "send_body"]

SEND: Final = Route("POST", "/rest/ws/message/v2/send", idempotent=False)
LIST: Final = Route("GET", "/rest/ws/message/list", Host.CHAT)


def send_body(
    ref: ConversationRef, text: str, sender: str, metadata: Mapping[str, object] | None
) -> bytes:
    """The exact bytes of a `message/v2/send` body; bad input raises first."""
    target = check_ref(ref)
    check_text(text)
    check_id(sender, "sender")
    meta = stringify_metadata(metadata) if metadata is not None else UNSET
    if isinstance(target, int):
        body = SendMessageBody(
            group_id=target, message=text, from_user_name=sender, metadata=meta
        )
    else:
        body = SendMessageBody(
            client_group_id=target, message=text, from_user_name=sender, metadata=meta
        )
    return encode(body)


class Messages(Resource):
    """Messages (reference P2, A1)."""

    __slots__ = ()

    async def send(
        self,
        ref: ConversationRef,
        text: str,
        sender: str | None = None,
        metadata: Mapping[str, object] | None = None,
    ) -> SentMessage:
        """Send a message (`POST message/v2/send`) and return its key.

        Args:
            ref: the conversation (groupId, clientGroupId or Conversation).
            text: the message text (not empty).
            sender: the sender's userId (`fromUserName`); the session's
                `on_behalf_of` by default.
            metadata: message metadata; nested values are JSON-stringified for you
                (rich messages: `{"contentType": "300", "templateId": "6",
                "payload": [...]}`).

        A send is never retried blindly: when it fails after the request may have
        reached the server (timeout, disconnect, 5xx), the error has
        `ambiguous=True` and the message may or may not be in the conversation.
        """
        body = send_body(
            ref, text, self._ctx.on_behalf_of if sender is None else sender, metadata
        )
        sent: SentMessage | None = await self._ctx.client.call(
            SEND, SentMessage, body=body
        )
        if sent is None:
            error = ResponseValidationError("send returned no messageKey", status=200)
            error.ambiguous = True
            raise error
        return sent

    async def list(
        self,
        ref: ConversationRef,
        page_size: int = 50,
        *,
        on_behalf_of: str | None = None,
    ) -> AsyncIterator[Message]:
        """Every message of a conversation, newest first (`GET message/list`).

        Pages with the `endTime` cursor, whether the server treats it as inclusive
        or not (UNCERTAIN): no gaps, no repeats (see `_paging.py`). If more than a
        page of messages share one millisecond, `startIndex` steps through them.
        """
        check_int(page_size, "page_size", minimum=1)
        acting = self._ctx.acting(on_behalf_of)
        group_id = await self._ctx.group_id(ref, on_behalf_of=on_behalf_of)
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
            page: MessagePage | None = await self._ctx.client.call(
                LIST, MessagePage, params=params, acting_as=acting
            )
            messages = (
                sorted(page.message, key=_created_at, reverse=True) if page else []
            )
            fresh = cursor.take(messages)
            for message in fresh:
                yield message
            if not fresh and len(messages) < page_size:
                return
            # A new cursor starts at offset 0; otherwise step through the boundary's
            # millisecond (more than a page of messages can share one).
            start_index = 0 if cursor.moved else start_index + len(messages)


def _key(message: Message) -> str:
    return message.key


def _created_at(message: Message) -> int:
    return message.created_at
