"""Posting a late answer into the conversation, as the bot would have said it.

When a handler outlives the reply deadline, Kommunicate already got the interim
answer; its replies then go through the REST API: text and templates with
`messages.send` (sender: the bot), a handoff to a named agent also with
`assignees.change`, a resolve with `conversations.set_status`. Every message carries
a dedupe key derived from the request key, so the conversation shows which request
it answers (docs/wire.md#bots).
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from .._errors import KommunicateError
from .._metadata import MetadataKey
from ..models.conversation import ConversationStatus
from ..rich._message import RichMessage

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .._session import KommunicateSession
    from ._payloads import BotRequest
    from ._reply import Reply

__all__ = ["Deliverer", "Undelivered", "dedupe_key"]

_log: Final = logging.getLogger("kommunicate_async.bots")


def dedupe_key(request_key: str, index: int) -> str:
    """The dedupe key of the `index`-th late reply to the message `request_key`."""
    return f"bot:{request_key}:{index}"


@dataclass(frozen=True, slots=True)
class Undelivered:
    """A late answer that could not be posted (kept in `BotApp.undelivered`)."""

    key: str
    group_id: int
    reason: str


class Deliverer:
    """Posts late answers; remembers the ones it could not post."""

    __slots__ = ("_km", "undelivered")

    def __init__(self, km: KommunicateSession | None) -> None:
        self._km = km
        self.undelivered: deque[Undelivered] = deque(maxlen=1000)

    def fail(self, request: BotRequest, reason: str) -> None:
        """Record (and log) an answer that will never reach the conversation."""
        _log.error("bot reply for message %s not delivered: %s", request.key, reason)
        self.undelivered.append(Undelivered(request.key, request.group_id, reason))

    async def post(
        self, request: BotRequest, replies: Sequence[Reply | RichMessage]
    ) -> None:
        """Post `replies` into the request's conversation, in order."""
        if not replies:
            return
        if self._km is None:
            self.fail(request, "no KommunicateSession to post a late reply with")
            return
        try:
            for index, reply in enumerate(replies):
                await self._post_one(self._km, request, index, reply)
        except KommunicateError as exc:
            self.fail(request, f"{type(exc).__name__}: {exc}")

    async def _post_one(
        self,
        km: KommunicateSession,
        request: BotRequest,
        index: int,
        reply: Reply | RichMessage,
    ) -> None:
        sender = request.bot_id or None
        mark = {MetadataKey.DEDUPE_KEY.value: dedupe_key(request.key, index)}
        if isinstance(reply, RichMessage):
            await km.messages.send(
                request.group_id, reply, sender=sender, metadata=mark
            )
            return
        metadata: dict[str, Any] = dict(reply.metadata or {})
        action = metadata.get("actionRequest")
        if reply.text:
            await km.messages.send(
                request.group_id,
                reply.text,
                sender=sender,
                metadata={**metadata, **mark},
            )
        if action == "resolveConversation":
            await km.conversations.set_status(
                request.group_id, ConversationStatus.RESOLVED
            )
        target = reply.assign_to
        if target:  # a named agent or bot; "" (the rules) travels in the metadata only
            await km.assignees.change(request.group_id, target)
