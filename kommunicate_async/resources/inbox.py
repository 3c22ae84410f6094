"""`km.inbox`: the agents' view: conversations by status and assignee, the
waiting queue of a team, many conversations in one call (docs/wire.md#inbox)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Literal

from .._errors import InvalidRequestError
from .._pipeline.routing import Host, Route
from .._validate import check_id, check_int
from ..models.conversation import Conversation, ConversationStatus
from ..models.inbox import InboxPage, WaitingQueue
from ._base import Context, Resource, check_ref
from ._loose import call_loose, repeated

if TYPE_CHECKING:
    from collections.abc import Iterable

    from multidict import MultiDict

    from ..models.conversation import ConversationRef

__all__ = ["Inbox", "fetch_many"]

SUPPORT: Final = Route("GET", "/rest/ws/group/support", Host.CHAT)
SUPPORT_ASSIGNED: Final = Route("GET", "/rest/ws/group/support/assigned", Host.CHAT)
WAITING: Final = Route("GET", "/rest/ws/group/waiting/list", Host.CHAT)
DETAILS: Final = Route("GET", "/rest/ws/group/details", Host.CHAT)

_STATUS_GROUPS: Final[dict[str, tuple[int, ...]]] = {
    # The Android SDK's agent inbox: "open" is sent as 0 and 6, "closed" as 2.
    "open": (ConversationStatus.OPEN, ConversationStatus.UNRESPONDED),
    "closed": (ConversationStatus.RESOLVED,),
}
_MAX_DETAILS: Final = 100

InboxStatus = Literal["open", "closed"] | ConversationStatus | int


def _statuses(status: InboxStatus | Iterable[InboxStatus]) -> list[int]:
    items = [status] if isinstance(status, str | int) else list(status)
    out: list[int] = []
    for item in items:
        if isinstance(item, str):
            if item not in _STATUS_GROUPS:
                raise InvalidRequestError(
                    "status must be 'open', 'closed' or a ConversationStatus, "
                    f"not {item!r}"
                )
            out.extend(int(s) for s in _STATUS_GROUPS[item])
        else:
            out.append(int(ConversationStatus(check_int(item, "status"))))
    if not out:
        raise InvalidRequestError("status must name at least one status")
    return list(dict.fromkeys(out))


def _details_query(
    refs: Iterable[ConversationRef],
) -> MultiDict[str | int] | None:
    """The checked refs as `group/details` wants them (numeric ids, then client
    ids); None when there are none, so no call is made."""
    checked = [check_ref(ref) for ref in refs]
    if not checked:
        return None
    if len(checked) > _MAX_DETAILS:
        raise InvalidRequestError(f"at most {_MAX_DETAILS} conversations per call")
    numeric = [c for c in checked if isinstance(c, int)]
    named = [c for c in checked if isinstance(c, str)]
    query = repeated(None, "groupIds", numeric)
    for name in named:
        query.add("clientGroupIds", name)
    return query


async def fetch_many(
    ctx: Context, refs: Iterable[ConversationRef], *, on_behalf_of: str | None = None
) -> list[Conversation]:
    """`GET group/details` with `groupIds` (or `clientGroupIds`) repeated."""
    query = _details_query(refs)
    if query is None:
        return []
    found: list[Conversation] | None = await call_loose(
        ctx,
        DETAILS,
        list[Conversation],
        "group/details",
        params=query,
        acting_as=ctx.acting(on_behalf_of),
    )
    for conversation in found or []:
        ctx.remember(conversation)
    return found or []


class Inbox(Resource):
    """The agent inbox (`group/support`, code only: UNCERTAIN)."""

    __slots__ = ()

    async def list(
        self,
        status: InboxStatus | Iterable[InboxStatus] = "open",
        *,
        assigned_to: str | None = None,
        page_size: int = 50,
        before: int | None = None,
        on_behalf_of: str | None = None,
    ) -> InboxPage:
        """Conversations by status, all or those assigned to one agent.

        Args:
            status: "open" (statuses 0 and 6), "closed" (2), or statuses.
            assigned_to: an agent id: `group/support/assigned?userId=`; None:
                every conversation the acting agent may see.
            page_size: conversations per page.
            before: `lastFetchTime` of the previous page (epoch ms).
            on_behalf_of: the acting agent (their token when logged in).
        """
        check_int(page_size, "page_size", minimum=1)
        single: dict[str, str | int] = {"pageSize": page_size}
        route = SUPPORT
        if assigned_to is not None:
            single = {"userId": check_id(assigned_to, "assigned_to"), **single}
            route = SUPPORT_ASSIGNED
        if before is not None:
            single["lastFetchTime"] = check_int(before, "before", minimum=0)
        params = repeated(single, "status", _statuses(status))
        page: InboxPage | None = await call_loose(
            self._ctx,
            route,
            InboxPage,
            "group/support",
            params=params,
            acting_as=self._ctx.acting(on_behalf_of),
        )
        page = page or InboxPage()
        for conversation in page.group_feeds:
            self._ctx.remember(conversation)
        return page

    async def waiting(
        self, team_id: str | int, *, on_behalf_of: str | None = None
    ) -> WaitingQueue:
        """A team's waiting queue, first in line first (`group/waiting/list`)."""
        team = check_id(str(team_id), "team_id")
        found: list[int] | None = await call_loose(
            self._ctx,
            WAITING,
            list[int],
            "group/waiting/list",
            params={"teamId": team},
            acting_as=self._ctx.acting(on_behalf_of),
        )
        return WaitingQueue(team_id=team, group_ids=found or [])

    async def queue_position(
        self,
        ref: ConversationRef,
        team_id: str | int,
        *,
        on_behalf_of: str | None = None,
    ) -> int | None:
        """1-based place of a conversation in its team's queue; None: not waiting."""
        group_id = await self._ctx.group_id(ref, on_behalf_of=on_behalf_of)
        queue = await self.waiting(team_id, on_behalf_of=on_behalf_of)
        return queue.position(group_id)
