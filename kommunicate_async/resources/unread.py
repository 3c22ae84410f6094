"""`km.unread`: unread counts and marking a conversation read."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .._errors import NotFoundError
from .._pipeline.reply import NoResult
from .._pipeline.routing import Host, Route
from .._validate import check_header_value, check_id, check_ids
from ._base import Resource
from .users import fetch_users

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ..models.conversation import ConversationRef

__all__ = ["Unread"]

MARK_READ: Final = Route("GET", "/rest/ws/message/read/conversation", Host.CHAT)


class Unread(Resource):
    """Unread counts: `unreadCount` of `user/v2/detail` (docs/wire.md#unread)."""

    __slots__ = ()

    async def count(self, user_id: str) -> int:
        """The user's unread messages across all conversations.

        Raises:
            NotFoundError: the server returned no such user.
        """
        check_id(user_id, "user_id")
        for user in await fetch_users(self._ctx, [user_id]):
            if user.user_id == user_id:
                return user.unread_count
        raise NotFoundError(200, None, f"user {user_id!r} not found")

    async def counts(self, user_ids: str | Iterable[str]) -> dict[str, int]:
        """Unread totals of several users in one request; unknown users are absent."""
        wanted = check_ids(user_ids, "user_ids")
        found = {
            u.user_id: u.unread_count for u in await fetch_users(self._ctx, wanted)
        }
        return {user_id: found[user_id] for user_id in wanted if user_id in found}

    async def mark_read(self, ref: ConversationRef, user_id: str) -> None:
        """Mark the conversation read for `user_id`, resetting their unread count.

        Acts as that user: with their token after `km.users.login(user_id)`, else
        `Api-Key` + `Of-User-Id: user_id`.
        """
        acting = check_header_value(user_id, "user_id")
        deadline = self._ctx.client.deadline()
        group_id = await self._ctx.group_id(ref, deadline=deadline)
        await self._ctx.client.call(
            MARK_READ,
            NoResult,
            empty=True,
            params={"groupId": group_id},
            acting_as=acting,
            deadline=deadline,
        )
