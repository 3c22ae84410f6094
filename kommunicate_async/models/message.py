"""Messages: what `message/list` returns, what a send returns, the send body."""

from __future__ import annotations

from typing import Any

import msgspec

from ..rich._content import RichContent, read_rich
from ._base import UNSET, Model, UnsetType, WireMetadata, normalize_metadata
from .conversation import Conversation
from .user import User

__all__ = [
    "AttachmentBody",
    "FileMeta",
    "Message",
    "MessagePage",
    "SendMessageBody",
    "SentMessage",
    "UploadReply",
]


class Message(Model, frozen=True, kw_only=True):
    """One message of a conversation (docs/wire.md#messages `message[]`)."""

    key: str
    """The server's message key (messageKey)."""
    text: str = msgspec.field(default="", name="message")
    created_at: int = msgspec.field(default=0, name="createdAtTime")
    """Creation time in epoch milliseconds; the paging cursor."""
    metadata: WireMetadata = msgspec.field(default_factory=dict[str, str])
    group_id: int | None = None
    client_conversation_id: str | None = msgspec.field(
        default=None, name="clientGroupId"
    )
    contact_ids: str | None = None
    to: str | None = None
    type: int | None = None
    content_type: int | None = None
    status: int | None = None
    file_meta: FileMeta | None = None
    """The attached file, for attachment messages."""
    viewer: str | None = msgspec.field(default=None, name="kmAsyncViewer")
    """Whose view `messages.list` read (set by the library, not a Kommunicate field):
    the sender of the `type` 5 (sent) messages of that view."""

    def __post_init__(self) -> None:
        normalize_metadata(self)

    @property
    def rich(self) -> RichContent | None:
        """The rich template this message carries (buttons, cards, ...), decoded."""
        return read_rich(self.metadata)

    @property
    def sender(self) -> str | None:
        """The sender's userId (docs/wire.md#messages, third audit item 7).

        The list reply names no `from` field. The Web SDK's `getMessageFeed` sets
        `from = type == 4 ? to : <the viewing user>`, and the widget and the iOS
        transcript read the author of a group message from `to`: so `to` first, and
        for a `type` 5 (sent) message the user whose view was listed (`viewer`).
        UNCERTAIN: `contactIds` is the fallback when `to` is absent.
        """
        if self.type == 5 and self.viewer:
            return self.viewer
        return self.to or self.contact_ids


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
    """`POST /rest/ws/message/v2/send` (docs/wire.md#send)."""

    group_id: int | UnsetType = UNSET
    client_group_id: str | UnsetType = UNSET
    message: str
    from_user_name: str
    metadata: dict[str, str] | UnsetType = UNSET
    content_type: int | UnsetType = UNSET
    """3 for HTML text; absent for plain text and templates."""


class FileMeta(Model, frozen=True, kw_only=True):
    """An uploaded file as the chat server describes it (`fileMeta`).

    What `POST /rest/ws/upload/image` returns and what an attachment message
    carries; every field is optional on decode (docs/wire.md#files).
    """

    key: str | None = None
    user_key: str | None = None
    blob_key: str | None = None
    thumbnail_blob_key: str | None = None
    name: str | None = None
    url: str | None = None
    size: int | None = None
    content_type: str | None = None
    thumbnail_url: str | None = None
    created_at_time: int | None = None


class UploadReply(Model, frozen=True, kw_only=True):
    """The upload reply: `{"fileMeta": {...}}` (Applozic) or the meta itself."""

    file_meta: FileMeta | None = None
    blob_key: str | None = None
    key: str | None = None
    name: str | None = None
    url: str | None = None
    size: int | None = None
    content_type: str | None = None
    thumbnail_url: str | None = None

    def meta(self) -> FileMeta | None:
        """The file meta, wherever the reply put it."""
        if self.file_meta is not None:
            return self.file_meta
        if self.blob_key is None and self.key is None:
            return None
        return FileMeta(
            key=self.key,
            blob_key=self.blob_key,
            name=self.name,
            url=self.url,
            size=self.size,
            content_type=self.content_type,
            thumbnail_url=self.thumbnail_url,
        )


class AttachmentBody(Model, frozen=True, kw_only=True):
    """`POST /rest/ws/message/send` with a `fileMeta` (docs/wire.md#files)."""

    group_id: int | UnsetType = UNSET
    client_group_id: str | UnsetType = UNSET
    message: str
    """The caption ("" for none)."""
    key: str
    """A client id (a UUID): marked required by the api-detail page; it also lets a
    reconcile find an ambiguous send (Android MessageClientService.java)."""
    # Required fields with no defaults: `omit_defaults` would drop a default of 1.
    # Values from Kommunicate's "Send attachments" example (docs/wire.md#files).
    type: int
    content_type: int
    """1: an attachment."""
    file_meta: dict[str, Any]
    """The upload's reply passed through whole (`userKey`, `thumbnailBlobKey`,
    `createdAtTime` and any field we do not know included)."""
    source: int
    metadata: dict[str, str] | UnsetType = UNSET
