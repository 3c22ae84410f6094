"""What `conversations.create` sends: participants, defaults, metadata."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Literal
from urllib.parse import quote

from .._errors import InvalidRequestError
from .._metadata import MetadataKey, merge_info, stringify_metadata
from .._validate import check_id, check_ids, check_text
from ..models._base import UNSET
from ..models.conversation import CreateConversationBody

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from .._config import ConversationDefaults

__all__ = [
    "DEFAULT_ID_RECIPE",
    "DEFAULT_TITLE",
    "ID_RECIPES",
    "IdRecipe",
    "MAX_CLIENT_ID_LENGTH",
    "Participants",
    "create_body",
    "single_conversation_id",
]

DEFAULT_TITLE: Final = "Conversation"
"""`groupName` is required; the SDKs also fall back to a default."""
MAX_CLIENT_ID_LENGTH: Final = 255
"""The SDKs refuse a generated clientGroupId longer than this."""


IdRecipe = Literal["android", "ios", "web", "android-legacy"]
"""Whose single-conversation clientGroupId to build (docs/wire.md#conversations)."""
DEFAULT_ID_RECIPE: Final[IdRecipe] = "android"
"""The current Android SDK's recipe (KmConversationHelper, since v2.8.4): the one
Kommunicate's own docs describe, minus the agents, which it stopped including."""
ID_RECIPES: Final = ("android", "ios", "web", "android-legacy")


def _java_join(parts: list[str]) -> str:
    # The Android SDK appends "_" after every part not equal to the last one, so
    # a part repeated at the end is glued on: kept as is, to find its ids.
    last = parts[-1] if parts else ""
    return "".join(p if p == last else p + "_" for p in parts)


def single_conversation_id(
    members: Iterable[str],
    agent_ids: Iterable[str],
    bot_ids: Iterable[str],
    *,
    recipe: IdRecipe = DEFAULT_ID_RECIPE,
) -> str:
    """The clientGroupId an SDK gives a "single conversation" of these people.

    - "android": sorted(users) + sorted(bots without "bot"), joined with "_".
    - "ios": sorted(agents) + users + sorted(set(bots) without "bot"), each id
      lower-cased, joined with "_" (iOS has one user; several are sorted).
    - "web": agents sorted ignoring case + sorted(users) + bots exactly as given
      ("bot" kept if passed), as the Web SDK's kommunicate.js `loadConversation`
      L229-262; at least one agent; the 256 limit counts the URL-encoded id.
    - "android-legacy": sorted(agents) + sorted(users) + sorted(bots without
      "bot"), the Android SDK before v2.8.4 and this library before 0.2.
    """
    users = sorted(set(members))
    agents = list(agent_ids)
    bots = [b for b in bot_ids if b != "bot"]
    if recipe == "android":
        client_id = _java_join([*users, *sorted(bots)])
    elif recipe == "android-legacy":
        client_id = _java_join([*sorted(agents), *users, *sorted(bots)])
    elif recipe == "ios":
        parts = [*sorted(agents), *users, *sorted(set(bots))]
        client_id = "_".join(p.lower() for p in parts)
    elif recipe == "web":
        return _web_id(agents, users, list(bot_ids))
    else:
        raise InvalidRequestError(
            f"id_recipe must be one of {', '.join(ID_RECIPES)}, not {recipe!r}"
        )
    if len(client_id) > MAX_CLIENT_ID_LENGTH:
        raise InvalidRequestError(
            f"the generated clientGroupId is over {MAX_CLIENT_ID_LENGTH} characters: "
            "reduce the number of agents or bots, or pass client_conversation_id="
        )
    return client_id


# encodeURIComponent leaves these unescaped (besides letters, digits, "-" and "_").
_URI_COMPONENT_SAFE: Final = "~()*!.'"
WEB_MAX_ENCODED_ID: Final = 256


def _web_id(agents: list[str], users: list[str], bots: list[str]) -> str:
    """The Web SDK's id: it never drops "bot" (it just never adds it), refuses zero
    agents (INVALID_PARAMETERS) and checks the length of the encoded id
    (MEMBER_LIMIT_EXCEEDS, kommunicate.js L229-262)."""
    if not agents:
        raise InvalidRequestError(
            'id_recipe="web" needs at least one agent (the Web SDK refuses none)'
        )
    client_id = "_".join([*sorted(agents, key=str.lower), *users, *bots])
    encoded = len(quote(client_id, safe=_URI_COMPONENT_SAFE))
    if encoded > WEB_MAX_ENCODED_ID:
        raise InvalidRequestError(
            f"the generated clientGroupId is {encoded} characters URL-encoded, over "
            f"{WEB_MAX_ENCODED_ID}: reduce the number of agents or bots, or pass "
            "client_conversation_id="
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
        self.team_id = _team(defaults.team_id if team_id is None else team_id)
        self.skip_routing = _skip(
            defaults.skip_routing if skip_routing is None else skip_routing
        )


def _team(team: object) -> str | None:
    if team is None:
        return None
    if isinstance(team, bool) or not isinstance(team, str | int):
        raise InvalidRequestError("team_id must be a str or int")
    return check_id(str(team), "team_id")


def _skip(skip: object) -> bool | None:
    if skip is not None and not isinstance(skip, bool):
        raise InvalidRequestError("skip_routing must be a bool or None")
    return skip


def _routing_metadata(people: Participants, meta: dict[str, str]) -> None:
    """Assignee, skip-routing and team keys, as the SDKs write them."""
    if people.assignee is not None:
        meta[MetadataKey.CONVERSATION_ASSIGNEE.value] = people.assignee
    skip = people.skip_routing
    if skip is None and people.assignee is not None:
        skip = True  # the SDKs set SKIP_ROUTING whenever an assignee is given
    if skip is not None:
        meta[MetadataKey.SKIP_ROUTING.value] = "true" if skip else "false"
    if people.team_id is not None:
        meta[MetadataKey.TEAM_ID.value] = people.team_id


def create_body(
    people: Participants,
    client_id: str | None,
    title: str | None,
    info: Mapping[str, object] | None,
    metadata: Mapping[str, object] | None,
) -> CreateConversationBody:
    meta = stringify_metadata(metadata)
    _routing_metadata(people, meta)
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
