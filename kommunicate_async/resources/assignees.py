"""`km.assignees`: hand a conversation to an agent or bot, and see who has it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .._errors import InvalidRequestError
from .._pipeline.routing import Route
from .._validate import check_id
from ..models.assignee import AssignOutcome
from ..models.user import User
from ._base import Resource
from .users import fetch_users

if TYPE_CHECKING:
    from ..models.conversation import ConversationRef

__all__ = ["Assignees"]

CHANGE: Final = Route("PATCH", "/rest/ws/group/assignee/change")


class Assignees(Resource):
    """Conversation assignment (docs/wire.md#assignees)."""

    __slots__ = ()

    async def change(
        self,
        ref: ConversationRef,
        assignee: str,
        *,
        notify: bool = True,
        take_over_from_bot: bool = True,
        on_behalf_of: str | None = None,
    ) -> AssignOutcome:
        """Assign the conversation (`PATCH group/assignee/change`, query only).

        Args:
            ref: the conversation; a clientGroupId is resolved to its groupId once.
            assignee: the agent or bot userId (agents are often e-mails).
            notify: post the "assigned to …" notice (`sendNotifyMessage`).
            take_over_from_bot: remove the bots, the usual bot -> human handoff.
            on_behalf_of: `Of-User-Id`, the session's default if None.

        Returns:
            UPDATED, ALREADY_ASSIGNED, AGENT_BUSY (the agent is at their limit and
            nothing changed), or an unknown server word kept as-is.
        """
        check_id(assignee, "assignee")
        for name, flag in (
            ("notify", notify),
            ("take_over_from_bot", take_over_from_bot),
        ):
            if not isinstance(flag, bool):
                raise InvalidRequestError(f"{name} must be a bool")
        acting = self._ctx.acting(on_behalf_of)
        deadline = self._ctx.client.deadline()  # one budget: lookup and change
        group_id = await self._ctx.group_id(
            ref, on_behalf_of=on_behalf_of, deadline=deadline
        )
        params: dict[str, str | int] = {
            "groupId": group_id,
            "assignee": assignee,
            # Sent by the Android and iOS SDKs; its meaning is UNCERTAIN
            # (docs/wire.md#assignees).
            "switchAssignee": "true",
            "sendNotifyMessage": "true" if notify else "false",
            "takeOverFromBot": "true" if take_over_from_bot else "false",
        }
        outcome = await self._ctx.client.call(
            CHANGE, str, params=params, acting_as=acting, deadline=deadline
        )
        return AssignOutcome(outcome)

    async def apply_rules(
        self, ref: ConversationRef, *, on_behalf_of: str | None = None
    ) -> AssignOutcome:
        """Hand the conversation to the routing rules: `PATCH group/assignee/change`
        with `switchAssignee=true&takeOverFromBot=true` and no `assignee`, as the
        widget's "talk to human" button did until 2025 (UNCERTAIN with `Api-Key`,
        docs/wire.md#assignees)."""
        acting = self._ctx.acting(on_behalf_of)
        deadline = self._ctx.client.deadline()
        group_id = await self._ctx.group_id(
            ref, on_behalf_of=on_behalf_of, deadline=deadline
        )
        params: dict[str, str | int] = {
            "groupId": group_id,
            "switchAssignee": "true",
            "takeOverFromBot": "true",
        }
        outcome: str | None = await self._ctx.client.call(
            CHANGE, str, params=params, acting_as=acting, deadline=deadline
        )
        return AssignOutcome(outcome or "updated")

    async def get(
        self, ref: ConversationRef, *, on_behalf_of: str | None = None
    ) -> User | None:
        """The assignee's details, or None if the conversation is unassigned.

        Reads `CONVERSATION_ASSIGNEE` from the conversation, then the user's details.
        If the details cannot be found, a `User` with only `user_id` is returned:
        None always means "unassigned".
        """
        deadline = self._ctx.client.deadline()
        conversation = await self._ctx.fetch_conversation(
            ref, on_behalf_of=on_behalf_of, deadline=deadline
        )
        assignee = conversation.assignee
        if assignee is None:
            return None
        users = await fetch_users(self._ctx, [assignee], deadline=deadline)
        return users[0] if users else User(user_id=assignee)
