"""Conversations (Applozic "groups" of type 10) and their status."""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING, Any, TypeAlias

import msgspec

from .._compat import override
from .._metadata import MetadataKey, parse_info
from ._base import UNSET, Model, UnsetType, WireMetadata, normalize_metadata

if TYPE_CHECKING:
    from ._base import JSONValue

__all__ = [
    "Conversation",
    "ConversationPage",
    "ConversationRef",
    "ConversationStatus",
    "CreateConversationBody",
    "UpdateGroupBody",
]


class ConversationStatus(IntEnum):
    """`CONVERSATION_STATUS` codes (docs/wire.md#statuses).

    Codes 1, 4 and 5 are contested between sources (UNCERTAIN), and the server may
    add more: an unknown code becomes a pseudo-member named ``UNKNOWN_<code>``
    instead of raising, so a new status never breaks decoding.
    """

    INITIAL = -1
    OPEN = 0
    PROGRESS = 1
    RESOLVED = 2
    CLOSED = 2
    SPAM = 3
    DUPLICATE = 4
    ARCHIVE = 5
    UNRESPONDED = 6
    WAITING = 7

    @classmethod
    @override
    def _missing_(cls, value: object) -> ConversationStatus | None:
        if isinstance(value, str):
            try:
                return cls(int(value.strip()))
            except ValueError:
                return None
        if isinstance(value, int) and not isinstance(value, bool):
            member = int.__new__(cls, value)
            member._name_ = f"UNKNOWN_{value}"
            member._value_ = value
            return member
        return None


class Conversation(Model, frozen=True, kw_only=True):
    """One conversation, as `group/info` and `group/conversation` return it.

    `assignee`, `status`, `team_id` and `info` are read from `metadata`, where
    Kommunicate keeps them (docs/wire.md#conversations).
    """

    id: int
    """The numeric groupId that most endpoints expect."""
    client_conversation_id: str | None = msgspec.field(
        default=None, name="clientGroupId"
    )
    """The caller-chosen id (Applozic clientGroupId)."""
    title: str = msgspec.field(default="", name="name")
    members: list[str] = msgspec.field(default_factory=list[str], name="membersId")
    metadata: WireMetadata = msgspec.field(default_factory=dict[str, str])
    admin_id: str | None = None
    unread_count: int | None = None
    created_at: int | None = msgspec.field(default=None, name="createdAtTime")
    """Creation time in epoch milliseconds."""
    updated_at: int | None = msgspec.field(default=None, name="updatedAtTime")
    type: int | None = None

    def __post_init__(self) -> None:
        normalize_metadata(self)

    @override
    def __repr__(self) -> str:
        """What a reader looks for: ids, title, status and assignee (not the raw
        metadata, where Kommunicate keeps those)."""
        status = self.status
        parts = [
            f"id={self.id!r}",
            f"client_conversation_id={self.client_conversation_id!r}",
            f"title={self.title!r}",
            f"status={None if status is None else status.name}",
            f"assignee={self.assignee!r}",
        ]
        if self.team_id is not None:
            parts.append(f"team_id={self.team_id!r}")
        parts.append(f"members={self.members!r}")
        return f"Conversation({', '.join(parts)})"

    @property
    def assignee(self) -> str | None:
        """The assigned agent or bot (`CONVERSATION_ASSIGNEE`), None if unassigned."""
        return self.metadata.get(MetadataKey.CONVERSATION_ASSIGNEE) or None

    @property
    def status(self) -> ConversationStatus | None:
        """The status (`CONVERSATION_STATUS`), None if the server has not set one."""
        raw = self.metadata.get(MetadataKey.CONVERSATION_STATUS)
        if raw is None or not raw.strip():
            return None
        try:
            return ConversationStatus(int(raw))
        except ValueError:  # not a number: an unknown status, not a crash
            return None

    @property
    def team_id(self) -> str | None:
        """The team (`KM_TEAM_ID`), None if none is set."""
        return self.metadata.get(MetadataKey.TEAM_ID) or None

    @property
    def info(self) -> dict[str, JSONValue]:
        """Conversation info (`conversationMetadata`, a JSON string on the wire)."""
        parsed: dict[str, Any] = parse_info(
            self.metadata.get(MetadataKey.CONVERSATION_INFO)
        )
        return parsed


ConversationRef: TypeAlias = "int | str | Conversation"
"""A numeric groupId, a clientGroupId string, or a `Conversation`."""


class ConversationPage(Model, frozen=True, kw_only=True):
    """One page of `group/filter`: `{groups, lastFetchTime, …}`.

    See docs/wire.md#conversations.

    `lastFetchTime` is the oldest group's `createdAtTime`; the cursor reads that
    from the groups themselves.
    """

    groups: list[Conversation] = msgspec.field(default_factory=list[Conversation])


class CreateConversationBody(Model, frozen=True, kw_only=True):
    """`POST /rest/ws/group/conversation` (docs/wire.md#conversations)."""

    group_name: str
    group_member_list: list[str]
    client_group_id: str | UnsetType = UNSET
    metadata: dict[str, str] | UnsetType = UNSET


class UpdateGroupBody(Model, frozen=True, kw_only=True):
    """`POST /rest/ws/group/update` (docs/wire.md#conversations)."""

    group_id: int
    metadata: dict[str, str]
