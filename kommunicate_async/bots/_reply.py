"""What a bot answers: `Reply`, handoffs, and the JSON array Kommunicate expects.

A custom bot answers with HTTP 200 and a JSON array; each item becomes one chat
message, and its metadata is real JSON (a template's `payload` is an array, not a
string as in `messages.send`). See docs/wire.md#bots.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeAlias, cast

import msgspec

from .._codec import encode
from .._errors import InvalidRequestError
from .._metadata import stringify_metadata
from ..rich._message import RichMessage

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from .._session import KommunicateSession
    from ..handoff import HandoffPolicy

__all__ = [
    "HANDOFF_MESSAGE",
    "Replies",
    "Reply",
    "ReplyLike",
    "apply_policies",
    "encode_reply",
    "reply_items",
]

HANDOFF_MESSAGE: Final = "our agents will get back to you"
"""The handoff text of Kommunicate's own example."""


@dataclass(frozen=True, slots=True)
class Reply:
    """One message of a bot's answer.

    Attributes:
        text: the message text ("" sends none: an action-only item).
        metadata: metadata with real JSON values (nested values stay objects).
    """

    text: str = ""
    metadata: Mapping[str, Any] | None = None
    policy: HandoffPolicy | None = None
    """A handoff policy the bot app applies before answering (`handoff(policy=)`)."""

    @classmethod
    def handoff(
        cls,
        agent: str | None = None,
        *,
        message: str = HANDOFF_MESSAGE,
        policy: HandoffPolicy | None = None,
    ) -> Reply:
        """Hand the conversation to a person: `agent`, or the routing rules (None).

        Sent as `KM_ASSIGN_TO` ("" means "apply the conversation rules"). With a
        `policy` (`kommunicate_async.handoff.HandoffPolicy`), the bot app applies
        it instead (availability, hours, `AGENT_BUSY`) and answers with the
        handoff `message` or the policy's offline message; without a session
        to apply it with, the reply falls back to the routing rules.
        """
        if policy is not None:
            if agent is not None:
                raise InvalidRequestError("pass agent or policy, not both")
            return cls(message, {"KM_ASSIGN_TO": ""}, policy=policy)
        return cls(message, {"KM_ASSIGN_TO": "" if agent is None else _id(agent)})

    @classmethod
    def to_team(cls, team_id: str, *, message: str = HANDOFF_MESSAGE) -> Reply:
        """Hand off to a team (`KM_ASSIGN_TEAM`).

        UNCERTAIN: the widget honours this key but Kommunicate does not document it
        for bot replies (docs/wire.md#bots).
        """
        return cls(message, {"KM_ASSIGN_TEAM": _id(team_id)})

    @classmethod
    def to_bot(
        cls,
        bot_id: str,
        *,
        event: str | None = None,
        data: Mapping[str, Any] | None = None,
        message: str = "",
    ) -> Reply:
        """Hand off to another bot, optionally triggering one of its events.

        In a reply over HTTP the event travels as `metadata.event` (Kommunicate's
        documented bot-to-bot handoff). Posted late, the bot is assigned and the
        event is triggered the way the web widget does it: a hidden message
        `Event:<name>` with `KM_TRIGGER_EVENT` (docs/wire.md#bots).
        """
        metadata: dict[str, Any] = {"KM_ASSIGN_TO": _id(bot_id)}
        if event is not None:
            metadata["event"] = {"name": _id(event), "data": dict(data or {})}
        return cls(message, metadata)

    @classmethod
    def resolve(cls, message: str = "") -> Reply:
        """Resolve the conversation (`actionRequest: resolveConversation`)."""
        return cls(message, {"actionRequest": "resolveConversation"})

    @property
    def event(self) -> str | None:
        """The event a `to_bot` handoff triggers, if any."""
        found = (self.metadata or {}).get("event")
        if isinstance(found, dict):
            name = cast("dict[str, object]", found).get("name")
            return name if isinstance(name, str) and name else None
        return None

    @property
    def assign_to(self) -> str | None:
        """The handoff target ("" = the routing rules), or None for no handoff."""
        found = (self.metadata or {}).get("KM_ASSIGN_TO")
        return found if isinstance(found, str) else None

    def item(self) -> dict[str, Any]:
        """The item as the bot-reply array holds it."""
        out: dict[str, Any] = {}
        if self.text:
            out["message"] = self.text
        if self.metadata:
            stringify_metadata(self.metadata)  # the same checks, for a clear error
            out["metadata"] = dict(self.metadata)
        if not out:
            raise InvalidRequestError("a Reply needs text or metadata")
        return out


def _id(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequestError(f"an id must be a non-empty str, not {value!r}")
    return value


ReplyLike: TypeAlias = "Reply | RichMessage | str"
"""One message a handler may return; a handler returns one, a list, or None."""
Replies: TypeAlias = "Reply | RichMessage | str | Sequence[Reply | RichMessage | str]"
"""One message or a sequence of them (`interim=`, `fallback=`); a str is ONE message."""


async def apply_policies(
    replies: list[Reply | RichMessage], km: KommunicateSession | None, group_id: int
) -> list[Reply | RichMessage]:
    """Replace each `Reply.handoff(policy=…)` by what its policy decided (the
    handoff done through the REST API); without a session it stays a handoff to
    the routing rules (`KM_ASSIGN_TO: ""`)."""
    if km is None or not any(isinstance(r, Reply) and r.policy for r in replies):
        return replies
    out: list[Reply | RichMessage] = []
    for reply in replies:
        if isinstance(reply, Reply) and reply.policy is not None:
            reply = await reply.policy.reply(km, group_id, message=reply.text)
        out.append(reply)
    return out


def reply_items(result: object) -> list[Reply | RichMessage]:
    """A handler's result as a list of replies (None: no answer).

    A str is one message, never a sequence of characters.
    """
    if result is None:
        return []
    entries: Sequence[object] = (
        list(cast("Sequence[object]", result))
        if isinstance(result, list | tuple)
        else [result]
    )
    out: list[Reply | RichMessage] = []
    for entry in entries:
        if isinstance(entry, str):
            out.append(Reply(entry))
        elif isinstance(entry, Reply | RichMessage):
            out.append(entry)
        else:
            raise InvalidRequestError(
                "a bot handler returns a Reply, a RichMessage, a str, a list of "
                f"them or None, not {type(entry).__name__}"
            )
    return out


def encode_reply(replies: Sequence[Reply | RichMessage]) -> bytes:
    """The HTTP body: a JSON array of bot-reply items.

    Raises `InvalidRequestError` for an item that cannot be sent (no text and no
    metadata, a non-str metadata key, a value that is not JSON, a lone surrogate).
    """
    try:
        return encode(
            [r.bot_reply() if isinstance(r, RichMessage) else r.item() for r in replies]
        )
    except InvalidRequestError:
        raise
    except (TypeError, ValueError, msgspec.EncodeError) as exc:
        # The type only: the message of an encoding error quotes the reply.
        raise InvalidRequestError(
            f"a reply cannot be encoded as JSON ({type(exc).__name__})"
        ) from None
