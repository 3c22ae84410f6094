"""Posting a late answer into the conversation, as the bot would have said it.

When a handler outlives the reply deadline, Kommunicate already got the interim
answer; its replies then go through the REST API, with the mechanisms Kommunicate's
own clients use (docs/wire.md#bots):

- text and templates: `messages.send` (sender: the bot), each with a dedupe key
  derived from the request key;
- a handoff to a named agent or bot: `assignees.change`;
- a handoff to the routing rules: `PATCH group/assignee/change` with
  `switchAssignee=true&takeOverFromBot=true` and *no* assignee (what the web widget's
  "talk to a human" button sent), or, with `rules_handoff="report"`, a report in
  `undelivered` (UNCERTAIN: no public source shows the server's side with Api-Key);
- `Reply.to_bot(bot_id, event=...)`: the bot is assigned, then the event is
  triggered with the hidden message the widget sends (`contentType` 10,
  `Event:<name>`, `category: HIDDEN`, `KM_TRIGGER_EVENT`);
- a resolve: `conversations.set_status`.

Whatever happens, each answer ends posted or reported: a failed step, a bug, or a
shutdown that cancels the post records what was not posted in `undelivered` and
logs it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

from .._errors import KommunicateError
from .._message_wire import SEND, send_body
from .._metadata import MetadataKey
from .._pipeline.headroom import bots_first
from ..models.conversation import ConversationStatus
from ..models.message import SentMessage
from ..resources.assignees import CHANGE
from ..rich._message import RichMessage

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .._session import KommunicateSession
    from ..scaleout import RateLimiter
    from ._payloads import BotRequest
    from ._reply import Reply

__all__ = [
    "EVENT_CONTENT_TYPE",
    "Deliverer",
    "EventSender",
    "RulesHandoff",
    "Undelivered",
    "dedupe_key",
    "event_message",
]

_log: Final = logging.getLogger("kommunicate_async.bots")

EVENT_CONTENT_TYPE: Final = 10
"""`contentType` of the widget's hidden event trigger (a channel/hidden message)."""

RulesHandoff = Literal["assignee_change", "report"]
"""How a late handoff to the routing rules is made: the widget's assignee change
without an assignee, or a report in `undelivered` (nothing sent for the handoff)."""
EventSender = Literal["user", "bot"]
"""Who sends the hidden event trigger: the end user (as the widget does) or the bot."""


def dedupe_key(request_key: str, index: int) -> str:
    """The dedupe key of the `index`-th late reply to the message `request_key`."""
    return f"bot:{request_key}:{index}"


def event_message(name: str) -> tuple[str, dict[str, str]]:
    """(text, metadata) of the hidden message that triggers bot event `name`."""
    return f"Event:{name}", {"category": "HIDDEN", "KM_TRIGGER_EVENT": name}


@dataclass(frozen=True, slots=True)
class Undelivered:
    """A late answer (or the part of it) that could not be posted.

    Attributes:
        key: the message key of the request it answers.
        group_id: the conversation.
        reason: why (an error type and message, or a shutdown).
        text: the texts of the replies not posted, one per line (what the
            customer did not get).
        replies: those replies.
    """

    key: str
    group_id: int
    reason: str
    text: str = ""
    replies: tuple[Reply | RichMessage, ...] = ()


def _texts(replies: Sequence[Reply | RichMessage]) -> str:
    return "\n".join(r.text for r in replies if r.text)


class Deliverer:
    """Posts late answers; remembers (and logs) the ones it could not post."""

    def __init__(
        self,
        km: KommunicateSession | None,
        *,
        rules_handoff: RulesHandoff = "assignee_change",
        event_sender: EventSender = "user",
    ) -> None:
        self._km = km
        self.rules_handoff: RulesHandoff = rules_handoff
        self.event_sender: EventSender = event_sender
        self.undelivered: deque[Undelivered] = deque(maxlen=10_000)
        self.rate_limit: RateLimiter | None = None
        """The app's send budget for late posts (`limiter.for_bots()` of a
        `LocalRateLimit` or `RedisRateLimit`: bots first); None: unpaced."""

    def fail(
        self,
        request: BotRequest,
        reason: str,
        replies: Sequence[Reply | RichMessage] = (),
    ) -> None:
        """Record (and log) an answer that will never reach the conversation."""
        _log.error(
            "bot reply for message %s (conversation %s) not delivered: %s",
            request.key,
            request.group_id,
            reason,
        )
        self.undelivered.append(
            Undelivered(
                request.key, request.group_id, reason, _texts(replies), tuple(replies)
            )
        )

    async def post(
        self, request: BotRequest, replies: Sequence[Reply | RichMessage]
    ) -> None:
        """Post `replies` into the request's conversation, in order.

        Never raises but for its own cancellation, and never loses a reply: what
        was not posted is in `undelivered` (with the cause) before this returns
        or re-raises.
        """
        if not replies:
            return
        if self._km is None:
            self.fail(
                request, "no KommunicateSession to post a late reply with", replies
            )
            return
        index = 0
        try:
            with bots_first():  # bots spend the reserve campaigns keep free
                for index, reply in enumerate(replies):
                    if self.rate_limit is not None:
                        await self.rate_limit.wait()
                    await self._post_one(self._km, request, index, reply)
        except asyncio.CancelledError:
            self.fail(
                request,
                "shut down while posting (the reply in flight may have arrived)",
                replies[index:],
            )
            raise
        except KommunicateError as exc:
            self.fail(request, f"{type(exc).__name__}: {exc}", replies[index:])
        except Exception as exc:  # a bug must not lose the answer silently
            _log.error("posting a late reply failed", exc_info=exc)
            self.fail(request, f"{type(exc).__name__}", replies[index:])

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
        await self._post_reply(km, request, reply, sender, mark)

    async def _post_reply(
        self,
        km: KommunicateSession,
        request: BotRequest,
        reply: Reply,
        sender: str | None,
        mark: dict[str, str],
    ) -> None:
        """A `Reply`: its text, then the resolve, handoff and event it asks for."""
        metadata: dict[str, Any] = dict(reply.metadata or {})
        event = reply.event
        metadata.pop("event", None)  # posted late it does nothing: the trigger does
        target = reply.assign_to
        if target == "" and self.rules_handoff == "report":
            # Refuse before anything is sent: the answer stays whole in the report.
            raise _Unsupported(
                "a late handoff to the routing rules (rules_handoff='report')"
            )
        if reply.text:
            await km.messages.send(
                request.group_id,
                reply.text,
                sender=sender,
                metadata={**metadata, **mark},
            )
        if metadata.get("actionRequest") == "resolveConversation":
            await km.conversations.set_status(
                request.group_id, ConversationStatus.RESOLVED
            )
        await _hand_off(km, request.group_id, target)
        if event is not None:
            user = request.sender if self.event_sender == "user" else sender
            await _trigger_event(km, request.group_id, event, user or None)


class _Unsupported(KommunicateError):
    """A reply this app is configured not to post late."""


async def _hand_off(km: KommunicateSession, group_id: int, target: str | None) -> None:
    """Hand the conversation on: "" to the routing rules, a name to that agent or
    bot, None not at all."""
    if target == "":
        await _apply_rules(km, group_id)
    elif target:
        await km.assignees.change(group_id, target)


async def _apply_rules(km: KommunicateSession, group_id: int) -> None:
    """Hand the conversation to the routing rules: the assignee change without an
    assignee that the web widget's "talk to a human" button sent (UNCERTAIN with
    Api-Key, docs/wire.md#bots)."""
    ctx = km.assignees._ctx  # pyright: ignore[reportPrivateUsage]
    await ctx.client.call(
        CHANGE,
        str,
        params={
            "groupId": group_id,
            "switchAssignee": "true",
            "takeOverFromBot": "true",
        },
        acting_as=ctx.acting(None),
    )


async def _trigger_event(
    km: KommunicateSession, group_id: int, name: str, sender: str | None
) -> None:
    """Send the hidden `Event:<name>` message the widget sends to fire a bot event.

    Through the library's normal message send: metadata values are strings.
    """
    ctx = km.messages._ctx  # pyright: ignore[reportPrivateUsage]
    text, metadata = event_message(name)
    body = send_body(
        group_id,
        text,
        ctx.on_behalf_of if sender is None else sender,
        metadata,
        content_type=EVENT_CONTENT_TYPE,
    )
    await ctx.client.call(SEND, SentMessage, body=body)
