"""Messages: what `message/list` returns, what a send returns, the send body."""

from __future__ import annotations

import msgspec

from ._base import UNSET, Model, UnsetType
from .conversation import Conversation
from .user import User

__all__ = ["Message", "MessagePage", "SendMessageBody", "SentMessage"]


class Message(Model, frozen=True, kw_only=True):
    """One message of a conversation (reference A1 `message[]`)."""

    key: str
    """The server's message key (messageKey)."""
    text: str = msgspec.field(default="", name="message")
    created_at: int = msgspec.field(default=0, name="createdAtTime")
    """Creation time in epoch milliseconds; the paging cursor."""
    metadata: dict[str, str] = msgspec.field(default_factory=dict[str, str])
    group_id: int | None = None
    client_conversation_id: str | None = msgspec.field(
        default=None, name="clientGroupId"
    )
    contact_ids: str | None = None
    to: str | None = None
    type: int | None = None
    content_type: int | None = None
    status: int | None = None

    @property
    def sender(self) -> str | None:
        """The sender's userId.

        UNCERTAIN (reference A1): the list reply names no `from` field; Applozic puts
        the other party of a group message in `contactIds` (and `to`).
        """
        return self.contact_ids or self.to


class MessagePage(Model, frozen=True, kw_only=True):
    """`GET /rest/ws/message/list` body: `{message, userDetails, groupFeeds}`."""

    message: list[Message] = msgspec.field(default_factory=list[Message])
    user_details: list[User] = msgspec.field(default_factory=list[User])
    group_feeds: list[Conversation] = msgspec.field(default_factory=list[Conversation])


class SentMessage(Model, frozen=True, kw_only=True):
    """What `message/v2/send` returns: `{"messageKey", "createdAt"}`."""

    key: str = msgspec.field(name="messageKey")
    created_at: int | None = None
    """Server time of the message in epoch milliseconds, when the reply has it."""


class SendMessageBody(Model, frozen=True, kw_only=True):
    """`POST /rest/ws/message/v2/send` (reference P2)."""

    group_id: int | UnsetType = UNSET
    client_group_id: str | UnsetType = UNSET
    message: str
    from_user_name: str
    metadata: dict[str, str] | UnsetType = UNSET
