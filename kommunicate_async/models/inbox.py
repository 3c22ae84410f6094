"""Message delivery state, the agent inbox and the team waiting queue."""

from __future__ import annotations

from enum import IntEnum

import msgspec

from ._base import Model
from .conversation import Conversation
from .message import Message
from .user import User

__all__ = ["DeliveryState", "InboxPage", "Receipt", "WaitingQueue"]


class DeliveryState(IntEnum):
    """`status` of a `message/info` entry (Applozic docs): 4 delivered, 1 read."""

    READ = 1
    DELIVERED = 4


class Receipt(Model, frozen=True, kw_only=True):
    """One member's copy of a message (`message/info`).

    Members that are not listed have neither delivered nor read it.
    """

    user_id: str
    status: int | None = None
    delivered_at: int | None = msgspec.field(default=None, name="deliveredAtTime")
    read_at: int | None = msgspec.field(default=None, name="readAtTime")

    @property
    def read(self) -> bool:
        """Read by this member (status 1, or a read time)."""
        return self.status == DeliveryState.READ or self.read_at is not None

    @property
    def delivered(self) -> bool:
        """Delivered to this member (read implies delivered)."""
        return (
            self.read
            or self.status == DeliveryState.DELIVERED
            or bool(self.delivered_at)
        )


class InboxPage(Model, frozen=True, kw_only=True):
    """`group/support`: `{message[], groupFeeds[], userDetails[]}` (Android SDK)."""

    message: list[Message] = msgspec.field(default_factory=list[Message])
    group_feeds: list[Conversation] = msgspec.field(default_factory=list[Conversation])
    user_details: list[User] = msgspec.field(default_factory=list[User])

    @property
    def conversations(self) -> list[Conversation]:
        """The conversations of this page."""
        return self.group_feeds


class WaitingQueue(msgspec.Struct, frozen=True, kw_only=True):
    """A team's waiting queue (`group/waiting/list`): groupIds, first in line first."""

    team_id: str
    group_ids: list[int]

    def position(self, group_id: int) -> int | None:
        """1-based queue position of `group_id` (index + 1), None if not waiting."""
        try:
            return self.group_ids.index(group_id) + 1
        except ValueError:
            return None
