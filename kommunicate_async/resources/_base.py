"""What every resource shares: the client, the session defaults, reference handling."""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Final

from .._config import ConversationDefaults
from .._errors import NotFoundError
from .._message_wire import check_ref
from .._pipeline.routing import Host, Route
from .._validate import check_header_value
from ..models.conversation import Conversation

if TYPE_CHECKING:
    from .._pipeline.call_state import Deadline
    from .._pipeline.client import ApiClient
    from ..models.conversation import ConversationRef

__all__ = ["GROUP_INFO", "Context", "Resource", "check_ref", "ref_params"]

GROUP_INFO: Final = Route("GET", "/rest/ws/group/info", Host.CHAT)
_GROUP_ID_CACHE_SIZE: Final = 10_000


def ref_params(ref: object) -> dict[str, str | int]:
    """`{"groupId": n}` or `{"clientGroupId": s}` for a query or body."""
    checked = check_ref(ref)
    return (
        {"groupId": checked} if isinstance(checked, int) else {"clientGroupId": checked}
    )


class Context:
    """Session state the resources share (one per `KommunicateSession`)."""

    __slots__ = ("_group_ids", "client", "defaults", "on_behalf_of")

    def __init__(self, client: ApiClient, *, on_behalf_of: str) -> None:
        self.client = client
        self.on_behalf_of = on_behalf_of
        self.defaults = ConversationDefaults()
        # clientGroupId -> groupId: ids never change, so resolving once is enough.
        self._group_ids: OrderedDict[str, int] = OrderedDict()

    def with_client(self, client: ApiClient, *, on_behalf_of: str) -> Context:
        """A context for a `with_options` view: its own client and acting user,
        the same defaults and clientGroupId cache."""
        view = Context(client, on_behalf_of=on_behalf_of)
        view.defaults = self.defaults
        view._group_ids = self._group_ids
        return view

    def acting(self, on_behalf_of: str | None) -> str:
        """The `Of-User-Id` for a call: the caller's choice or the session default."""
        if on_behalf_of is None:
            return self.on_behalf_of
        return check_header_value(on_behalf_of, "on_behalf_of")

    def remember(self, conversation: Conversation) -> None:
        """Cache a conversation's clientGroupId -> groupId mapping."""
        client_id = conversation.client_conversation_id
        if client_id:
            self._group_ids[client_id] = conversation.id
            self._group_ids.move_to_end(client_id)
            if len(self._group_ids) > _GROUP_ID_CACHE_SIZE:
                self._group_ids.popitem(last=False)

    async def fetch_conversation(
        self,
        ref: ConversationRef,
        *,
        on_behalf_of: str | None = None,
        deadline: Deadline | None = None,
    ) -> Conversation:
        """`GET group/info` by groupId or clientGroupId; NotFoundError if absent."""
        params = ref_params(ref)
        conversation = await self.client.call(
            GROUP_INFO,
            Conversation,
            empty=True,  # a success envelope with no group: not found, below
            params=params,
            acting_as=self.acting(on_behalf_of),
            deadline=deadline,
        )
        if conversation is None:  # a success envelope with no group in it
            raise NotFoundError(
                200, None, f"conversation {next(iter(params.values()))!r} not found"
            )
        self.remember(conversation)
        return conversation

    async def group_id(
        self,
        ref: ConversationRef,
        *,
        on_behalf_of: str | None = None,
        deadline: Deadline | None = None,
    ) -> int:
        """The numeric groupId, looking a clientGroupId up once (assignee and status
        changes need it); `deadline` is the calling method's, shared with its
        next request."""
        checked = check_ref(ref)
        if isinstance(checked, int):
            return checked
        found = self._group_ids.get(checked)
        if found is not None:
            return found
        conversation = await self.fetch_conversation(
            checked, on_behalf_of=on_behalf_of, deadline=deadline
        )
        return conversation.id


class Resource:
    """Base of the resource classes: thin methods over the shared `Context`."""

    __slots__ = ("_ctx",)

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
