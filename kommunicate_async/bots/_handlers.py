"""Handler signatures, routing by bot and event, and what a handler is handed."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

import msgspec

from .._errors import InvalidPayloadError
from .._metadata import MetadataKey
from ._deliver import dedupe_key
from ._payloads import decode_body
from ._routing import Route, Router, chain
from ._state import ConversationState, MemoryStateStore
from ._user import bind_user

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from .._session import KommunicateSession
    from ..models.message import SentMessage
    from ..rich._message import RichMessage
    from ._payloads import BotRequest, WebhookMessage
    from ._state import StateStore

__all__ = [
    "BotContext",
    "Handlers",
    "MessageHandler",
    "TokenHandler",
    "WebhookContext",
    "WebhookHandler",
    "parse_token_check",
]

MessageHandler: TypeAlias = "Callable[[BotRequest, BotContext], Awaitable[Any]]"
"""`async (request, ctx) -> Reply | RichMessage | str | list[...] | None`."""
WebhookHandler: TypeAlias = (
    "Callable[[WebhookMessage, WebhookContext], Awaitable[object]]"
)
TokenHandler: TypeAlias = "Callable[[str, str], Awaitable[bool]]"


@dataclass
class BotContext:
    """What a bot handler gets beside the request.

    Attributes:
        km: the app's session (None if the app has none).
        request: the message being answered.
        deadline: `time.monotonic()` by which the answer is due over HTTP; later
            answers are posted into the conversation instead.
    """

    km: KommunicateSession | None
    request: BotRequest
    deadline: float
    _sent: itertools.count[int] = field(default_factory=itertools.count, repr=False)
    store: StateStore | None = field(default=None, repr=False)
    """Where `state` lives (the app's `state=` store)."""
    _state: ConversationState | None = field(default=None, repr=False)

    @property
    def state(self) -> ConversationState:
        """This conversation's state: typed get/set/update with compare-and-set."""
        if self._state is None:
            store = self.store if self.store is not None else _fallback_store()
            self._state = ConversationState(store, str(self.request.group_id))
        return self._state

    def time_left(self) -> float:
        """Seconds before the reply deadline (0 once it has passed)."""
        return max(0.0, self.deadline - time.monotonic())

    async def send(self, message: str | RichMessage) -> SentMessage:
        """Post a message into the conversation now, as the bot (not in the reply).

        Each carries a dedupe key derived from the request key.
        """
        if self.km is None:
            from .._errors import ConfigurationError

            raise ConfigurationError("BotApp has no KommunicateSession to send with")
        mark = dedupe_key(self.request.key, 1000 + next(self._sent))
        return await self.km.messages.send(
            self.request.group_id,
            message,
            sender=self.request.bot_id or None,
            metadata={MetadataKey.DEDUPE_KEY.value: mark},
        )


_LOCAL_STATE: list[StateStore] = []


def _fallback_store() -> StateStore:
    """A context built by hand (tests) gets one process-wide memory store."""
    if not _LOCAL_STATE:
        _LOCAL_STATE.append(MemoryStateStore())
    return _LOCAL_STATE[0]


@dataclass(frozen=True, slots=True)
class WebhookContext:
    """What a webhook handler gets beside the message."""

    km: KommunicateSession | None


class Handlers(Router):
    """The registered handlers, in registration order, and the app's middleware
    and conversation-state store."""

    def __init__(self) -> None:
        super().__init__("app")
        self.webhook: list[WebhookHandler] = []
        self.token: TokenHandler | None = None
        self.state: StateStore = MemoryStateStore()

    @property
    def message(self) -> list[Route]:
        """The message routes (the same list as `routes`)."""
        return self.routes

    def add_message(
        self,
        handler: MessageHandler,
        *,
        bot_id: str | None,
        event: str | None,
        filters: tuple[Callable[[BotRequest], bool], ...] = (),
    ) -> None:
        if not callable(handler):
            raise TypeError(f"a handler must be an async function, not {handler!r}")
        self.add(Route(handler, bot_id, event, filters))

    async def call(
        self, handler: MessageHandler, request: BotRequest, ctx: BotContext
    ) -> Any:
        """Run `handler` inside the app's middleware, with `request.user()` bound."""
        bound = bind_user(request, ctx)
        ctx.request = bound
        if not self.middleware:
            return await handler(bound, ctx)
        return await chain(self.middleware, handler)(bound, ctx)


class _TokenCheck(msgspec.Struct, rename="camel"):
    user_id: str
    token: str


def parse_token_check(body: bytes) -> tuple[str, str]:
    """(userId, token) of an Access Token URL request."""
    found = decode_body(body, _TokenCheck)  # the same size and depth checks as the rest
    if not isinstance(found, _TokenCheck):  # pragma: no cover - the decoder's type
        raise InvalidPayloadError("not a token check")
    return found.user_id, found.token
