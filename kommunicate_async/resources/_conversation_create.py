"""What `conversations.create` sends: participants, defaults, metadata."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .._errors import InvalidRequestError
from .._metadata import MetadataKey, merge_info, stringify_metadata
from .._validate import check_id, check_ids, check_text
from ..models._base import UNSET
from ..models.conversation import CreateConversationBody

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from .._config import ConversationDefaults

__all__ = [
    "DEFAULT_TITLE",
    "MAX_CLIENT_ID_LENGTH",
    "Participants",
    "create_body",
    "single_conversation_id",
]

DEFAULT_TITLE: Final = "Conversation"
"""`groupName` is required; the SDKs also fall back to a default."""
MAX_CLIENT_ID_LENGTH: Final = 255
"""The SDKs refuse a generated clientGroupId longer than this."""


def single_conversation_id(
    members: Iterable[str], agent_ids: Iterable[str], bot_ids: Iterable[str]
) -> str:
    """The SDKs' clientGroupId of a "single conversation" (docs/wire.md#conversations).

    sorted(agents) + sorted(users) + sorted(bots without "bot"), joined with "_"; the
    same participants always give the same id, so the conversation is found again.
    """
    parts = [*sorted(agent_ids), *sorted(set(members)), *sorted(set(bot_ids) - {"bot"})]
    client_id = "_".join(parts)
    if len(client_id) > MAX_CLIENT_ID_LENGTH:
        raise InvalidRequestError(
            f"the generated clientGroupId is over {MAX_CLIENT_ID_LENGTH} characters: "
            "reduce the number of agents or bots, or pass client_conversation_id="
        )
    return client_id


class Participants:
    """Members, agents and bots after the session defaults are applied."""

    __slots__ = ("agents", "assignee", "bots", "members", "skip_routing", "team_id")

    def __init__(
        self,
        members: object,
        agent_ids: object,
        bot_ids: object,
        assignee: str | None,
        team_id: str | int | None,
        skip_routing: bool | None,
        defaults: ConversationDefaults,
    ) -> None:
        self.members = check_ids(members, "members")
        self.agents = check_ids(
            defaults.agent_ids if agent_ids is None else agent_ids,
            "agent_ids",
            allow_empty=True,
        )
        self.bots = check_ids(
            defaults.bot_ids if bot_ids is None else bot_ids,
            "bot_ids",
            allow_empty=True,
        )
        chosen = defaults.assignee if assignee is None else assignee
        self.assignee = None if chosen is None else check_id(chosen, "assignee")
        team = defaults.team_id if team_id is None else team_id
        if isinstance(team, bool) or (
            team is not None and not isinstance(team, str | int)
        ):
            raise InvalidRequestError("team_id must be a str or int")
        self.team_id = None if team is None else check_id(str(team), "team_id")
        skip = defaults.skip_routing if skip_routing is None else skip_routing
        if skip is not None and not isinstance(skip, bool):
            raise InvalidRequestError("skip_routing must be a bool or None")
        self.skip_routing = skip


def create_body(
    people: Participants,
    client_id: str | None,
    title: str | None,
    info: Mapping[str, object] | None,
    metadata: Mapping[str, object] | None,
) -> CreateConversationBody:
    meta = stringify_metadata(metadata)
    if people.assignee is not None:
        meta[MetadataKey.CONVERSATION_ASSIGNEE.value] = people.assignee
    skip = people.skip_routing
    if skip is None and people.assignee is not None:
        skip = True  # the SDKs set SKIP_ROUTING whenever an assignee is given
    if skip is not None:
        meta[MetadataKey.SKIP_ROUTING.value] = "true" if skip else "false"
    if people.team_id is not None:
        meta[MetadataKey.TEAM_ID.value] = people.team_id
    if title is not None:
        check_text(title, "title")
        meta[MetadataKey.CONVERSATION_TITLE.value] = title
        meta[MetadataKey.ORIGINAL_TITLE.value] = "true"
    if info is not None:
        meta[MetadataKey.CONVERSATION_INFO.value] = merge_info(None, info)
    participants = [*people.members, *people.agents, *people.bots]
    if people.assignee is not None:
        participants.append(people.assignee)  # an assignee must be able to see it
    return CreateConversationBody(
        group_name=title if title is not None else DEFAULT_TITLE,
        group_member_list=list(dict.fromkeys(participants)),
        client_group_id=client_id if client_id is not None else UNSET,
        metadata=meta if meta else UNSET,
    )
