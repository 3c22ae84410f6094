"""`km.conversations`: create, find, update and list conversations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import msgspec

from .._codec import encode
from .._errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
)
from .._metadata import MetadataKey, merge_info
from .._paging import NewestFirstCursor
from .._pipeline.reply import NoResult
from .._pipeline.routing import Host, Route
from .._validate import check_id, check_ids, check_int
from ..models.conversation import (
    Conversation,
    ConversationPage,
    ConversationRef,
    ConversationStatus,
    UpdateGroupBody,
)
from ._base import Resource, ref_params
from ._conversation_create import (
    DEFAULT_ID_RECIPE,
    IdRecipe,
    Participants,
    create_body,
    single_conversation_id,
)
from ._lifecycle import delete_conversation, delete_conversation_messages
from .inbox import fetch_many

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable, Mapping

    from .._config import ConversationDefaults
    from .._pipeline.call_state import Deadline

__all__ = ["Conversations", "single_conversation_id"]

CREATE: Final = Route("POST", "/rest/ws/group/conversation", idempotent=False)
UPDATE: Final = Route("POST", "/rest/ws/group/update", Host.CHAT)
CHANGE_STATUS: Final = Route("PATCH", "/rest/ws/group/status/change")
ADD_MEMBER: Final = Route("POST", "/rest/ws/group/add/member", Host.CHAT)
REMOVE_MEMBER: Final = Route("POST", "/rest/ws/group/remove/member", Host.CHAT)
FILTER: Final = Route("GET", "/rest/ws/group/filter", Host.CHAT)

MAX_PAGE_SIZE: Final = 500
"""The Applozic default, so a safe ceiling, for `group/filter` pages."""


class Conversations(Resource):
    """Conversations: Applozic groups of type 10 (docs/wire.md#conversations)."""

    __slots__ = ()

    @property
    def defaults(self) -> ConversationDefaults:
        """The session's `ConversationDefaults` (set them with `km.defaults = …`)."""
        return self._ctx.defaults

    async def create(
        self,
        members: str | Iterable[str],
        *,
        agent_ids: Iterable[str] | None = None,
        bot_ids: Iterable[str] | None = None,
        assignee: str | None = None,
        team_id: str | int | None = None,
        client_conversation_id: str | None = None,
        title: str | None = None,
        info: Mapping[str, object] | None = None,
        metadata: Mapping[str, object] | None = None,
        skip_routing: bool | None = None,
    ) -> Conversation:
        """Create a conversation (`POST group/conversation`).

        Args:
            members: the end users (at least one).
            agent_ids: agents to add; None takes the session defaults.
            bot_ids: bots to add; None takes the session defaults.
            assignee: the agent or bot to assign; also sets SKIP_ROUTING unless
                `skip_routing` says otherwise.
            team_id: the team to route to (`KM_TEAM_ID`).
            client_conversation_id: your own unique id (clientGroupId).
            title: the conversation title.
            info: conversation info shown to agents (stored as a JSON string).
            metadata: extra group metadata; values are stringified for you. Named
                arguments win over the same keys here.
            skip_routing: skip the dashboard's conversation rules.

        Raises:
            ConflictError: `client_conversation_id` is taken ("group already exists").
        """
        people = Participants(
            members,
            agent_ids,
            bot_ids,
            assignee,
            team_id,
            skip_routing,
            self._ctx.defaults,
        )
        if client_conversation_id is not None:
            check_id(client_conversation_id, "client_conversation_id")
        body = create_body(people, client_conversation_id, title, info, metadata)
        conversation = await self._ctx.client.call(
            CREATE, Conversation, body=encode(body)
        )
        self._ctx.remember(conversation)
        return conversation

    async def get_or_create(
        self,
        members: str | Iterable[str],
        *,
        agent_ids: Iterable[str] | None = None,
        bot_ids: Iterable[str] | None = None,
        assignee: str | None = None,
        team_id: str | int | None = None,
        client_conversation_id: str | None = None,
        title: str | None = None,
        info: Mapping[str, object] | None = None,
        metadata: Mapping[str, object] | None = None,
        skip_routing: bool | None = None,
        id_recipe: IdRecipe = DEFAULT_ID_RECIPE,
    ) -> Conversation:
        """The one conversation for these participants (or this client id), made if new.

        Without `client_conversation_id` the id is built the way the app that
        makes your conversations builds it (`id_recipe`, see
        `single_conversation_id`): "android" (the default: the current Android
        SDK, agents left out), "ios", "web", or "android-legacy" (agents first,
        this library's recipe before 0.2). Safe under races: a concurrent create's
        conflict is resolved by reading the winner's conversation. The lookup and
        the create share the session's total timeout.
        """
        people = Participants(
            members,
            agent_ids,
            bot_ids,
            assignee,
            team_id,
            skip_routing,
            self._ctx.defaults,
        )
        client_id = (
            check_id(client_conversation_id, "client_conversation_id")
            if client_conversation_id is not None
            else single_conversation_id(
                people.members, people.agents, people.bots, recipe=id_recipe
            )
        )
        body = create_body(people, client_id, title, info, metadata)  # checks first
        deadline = self._ctx.client.deadline()
        try:
            return await self._ctx.fetch_conversation(client_id, deadline=deadline)
        except NotFoundError:
            pass
        try:
            conversation = await self._ctx.client.call(
                CREATE, Conversation, body=encode(body), deadline=deadline
            )
        except ConflictError:
            return await self._ctx.fetch_conversation(client_id, deadline=deadline)
        self._ctx.remember(conversation)
        return conversation

    async def get(
        self, ref: ConversationRef, *, on_behalf_of: str | None = None
    ) -> Conversation:
        """One conversation by groupId, clientGroupId or `Conversation` (group/info).

        Raises:
            NotFoundError: no such conversation.
        """
        return await self._ctx.fetch_conversation(ref, on_behalf_of=on_behalf_of)

    async def update_info(
        self,
        ref: ConversationRef,
        info: Mapping[str, object],
        *,
        on_behalf_of: str | None = None,
    ) -> Conversation:
        """Merge `info` into the conversation info; a None value deletes that key.

        Reads the conversation, then sends only the merged `conversationMetadata`
        key (`POST group/update` merges metadata keys, docs/wire.md#conversations):
        a status or assignee changed meanwhile is never written back stale.
        Returns the conversation as it now is.
        """
        merge_info(None, info)  # every check before any request
        deadline = self._ctx.client.deadline()
        current = await self._ctx.fetch_conversation(
            ref, on_behalf_of=on_behalf_of, deadline=deadline
        )
        merged = merge_info(current.metadata.get(MetadataKey.CONVERSATION_INFO), info)
        return await self._write_metadata(
            current,
            {MetadataKey.CONVERSATION_INFO.value: merged},
            on_behalf_of,
            deadline,
        )

    async def update_team(
        self,
        ref: ConversationRef,
        team_id: str | int,
        *,
        on_behalf_of: str | None = None,
    ) -> Conversation:
        """Move the conversation to another team (`KM_TEAM_ID`); Kommunicate then
        routes it to that team (docs/wire.md#conversations). Only that key is sent.
        """
        if isinstance(team_id, bool) or not isinstance(team_id, str | int):
            raise InvalidRequestError("team_id must be a str or int")
        team = check_id(str(team_id), "team_id")
        deadline = self._ctx.client.deadline()
        current = await self._ctx.fetch_conversation(
            ref, on_behalf_of=on_behalf_of, deadline=deadline
        )
        return await self._write_metadata(
            current, {MetadataKey.TEAM_ID.value: team}, on_behalf_of, deadline
        )

    async def set_status(
        self,
        ref: ConversationRef,
        status: ConversationStatus | int,
        *,
        notify: bool = True,
        on_behalf_of: str | None = None,
    ) -> None:
        """Change the status, e.g. to `ConversationStatus.RESOLVED`."""
        code = check_int(
            int(status) if isinstance(status, ConversationStatus) else status, "status"
        )
        if not isinstance(notify, bool):
            raise InvalidRequestError("notify must be a bool")
        acting = self._ctx.acting(on_behalf_of)
        deadline = self._ctx.client.deadline()
        group_id = await self._ctx.group_id(
            ref, on_behalf_of=on_behalf_of, deadline=deadline
        )
        params: dict[str, str | int] = {
            "groupId": group_id,
            "status": code,
            "sendNotifyMessage": "true" if notify else "false",
        }
        await self._ctx.client.call(
            CHANGE_STATUS,
            NoResult,
            empty=True,
            params=params,
            acting_as=acting,
            deadline=deadline,
        )

    async def get_many(
        self,
        refs: Iterable[ConversationRef],
        *,
        on_behalf_of: str | None = None,
    ) -> list[Conversation]:
        """Many conversations in one call (`GET group/details`, ids repeated)."""
        return await fetch_many(self._ctx, refs, on_behalf_of=on_behalf_of)

    async def delete_messages(
        self, ref: ConversationRef, *, on_behalf_of: str | None = None
    ) -> None:
        """Delete the acting member's copy of every message
        (`GET message/delete/conversation?groupId=`)."""
        await delete_conversation_messages(
            self._ctx, ref, self._ctx.acting(on_behalf_of)
        )

    async def delete(
        self, ref: ConversationRef, *, on_behalf_of: str | None = None
    ) -> None:
        """Delete the conversation (`GET group/delete`); the acting user must be
        its admin (`Of-User-Id` = the group's admin with admin credentials)."""
        await delete_conversation(self._ctx, ref, self._ctx.acting(on_behalf_of))

    async def add_members(
        self,
        ref: ConversationRef,
        user_ids: str | Iterable[str],
        *,
        on_behalf_of: str | None = None,
    ) -> None:
        """Add users to the conversation (`POST group/add/member`, one per user)."""
        await self._members(ADD_MEMBER, ref, user_ids, on_behalf_of)

    async def remove_members(
        self,
        ref: ConversationRef,
        user_ids: str | Iterable[str],
        *,
        on_behalf_of: str | None = None,
    ) -> None:
        """Remove users from the conversation (`group/remove/member`, one per user)."""
        await self._members(REMOVE_MEMBER, ref, user_ids, on_behalf_of)

    async def list(
        self, *, page_size: int = 50, on_behalf_of: str | None = None
    ) -> AsyncIterator[Conversation]:
        """Every conversation of the app, newest first (`GET group/filter`, admin).

        Pages with the `endTime` cursor (see `_paging.py`): no gaps, no repeats,
        whether the server's `endTime` is inclusive or not (UNCERTAIN).
        """
        check_int(page_size, "page_size", minimum=1)
        acting = self._ctx.acting(on_behalf_of)
        cursor = NewestFirstCursor[Conversation](_group_key, _group_created_at)
        size = page_size
        while True:
            params: dict[str, str | int] = {"pageSize": size}
            if cursor.end_time is not None:
                params["endTime"] = cursor.end_time
            page = await self._ctx.client.call(
                FILTER, ConversationPage, empty=True, params=params, acting_as=acting
            )
            groups = page.groups if page is not None else []
            fresh = cursor.take(groups)
            for group in fresh:
                self._ctx.remember(group)
                yield group
            if fresh:
                size = page_size
            elif len(groups) < size or size >= MAX_PAGE_SIZE:
                return  # bounded: a cursor-ignoring server ends here too
            else:
                # group/filter has no offset: a full page of one millisecond is
                # stepped over by asking for a bigger page.
                size = min(size * 2, MAX_PAGE_SIZE)

    # -- helpers ----------------------------------------------------------------------

    async def _write_metadata(
        self,
        current: Conversation,
        changes: dict[str, str],
        on_behalf_of: str | None,
        deadline: Deadline,
    ) -> Conversation:
        # Only the changed keys: group/update merges, and writing back what was
        # read could revert a concurrent resolve or reassignment.
        body = UpdateGroupBody(group_id=current.id, metadata=changes)
        await self._ctx.client.call(
            UPDATE,
            NoResult,
            empty=True,
            body=encode(body),
            acting_as=self._ctx.acting(on_behalf_of),
            deadline=deadline,
        )
        return _replace_metadata(current, {**current.metadata, **changes})

    async def _members(
        self,
        route: Route,
        ref: ConversationRef,
        user_ids: object,
        on_behalf_of: str | None,
    ) -> None:
        ids = check_ids(user_ids, "user_ids")
        where = ref_params(ref)
        acting = self._ctx.acting(on_behalf_of)
        bodies = [encode({**where, "userId": user_id}) for user_id in ids]
        deadline = self._ctx.client.deadline()  # one budget for the whole list
        for body in bodies:
            await self._ctx.client.call(
                route,
                NoResult,
                empty=True,
                body=body,
                acting_as=acting,
                deadline=deadline,
            )


def _group_key(group: Conversation) -> int:
    return group.id


def _group_created_at(group: Conversation) -> int | None:
    return group.created_at


def _replace_metadata(
    conversation: Conversation, metadata: dict[str, str]
) -> Conversation:
    return msgspec.structs.replace(conversation, metadata=metadata)
