"""`BotApp`: route Kommunicate's bot requests and webhooks to your handlers.

The core is framework-free: `await app.handle(kind, headers, body)` returns a
`BotResponse` (status, body, content type). `aiohttp_app()` and `asgi()` are thin
adapters over it, so another framework is a few lines.
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar, overload

from .._codec import encode
from .._errors import ConfigurationError, InvalidPayloadError
from ._auth import HeaderCheck, bot_header_check, webhook_check
from ._deliver import Deliverer, Undelivered
from ._handlers import (
    BotContext,
    Handlers,
    TokenHandler,
    WebhookHandler,
    parse_token_check,
)
from ._payloads import BotRequest, parse_bot_request, parse_webhook_message
from ._reply import Reply, apply_policies, encode_reply, reply_items
from ._runs import Answer, Runs
from ._store import MemoryReplyStore, ReplyStore
from ._webhooks import Webhooks

if TYPE_CHECKING:
    from aiohttp import web

    from .._session import KommunicateSession
    from ..rich._message import RichMessage
    from ._asgi import AsgiBotApp

__all__ = ["BotApp", "BotResponse", "Kind"]

_log: Final = logging.getLogger("kommunicate_async.bots")
_JSON: Final = "application/json"
_DEFAULT_FALLBACK: Final = (
    Reply.handoff(message="Sorry, something went wrong. Let me find you a person."),
)

Kind = Literal["bot", "webhook", "token"]
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


@dataclass(frozen=True, slots=True)
class BotResponse:
    """What to answer over HTTP."""

    status: int
    body: bytes
    content_type: str = _JSON


def _json_error(message: str) -> bytes:
    return encode({"error": message})


class BotApp:
    """A custom bot and message-webhook receiver.

        app = BotApp(km, bot_header=("X-Bot-Token", secret), webhook_token=token)

        @app.on_message
        async def answer(request: BotRequest, ctx: BotContext) -> str:
            return f"You said {request.text}"

    Args:
        km: the session late answers are posted with (None: late answers are
            recorded in `undelivered` and logged).
        bot_header: `(name, value)` of the header configured for the custom bot
            in the dashboard; the value may be a list (rotation).
        webhook_token: the webhook authentication token(s) of the dashboard.
        reply_deadline: seconds a handler may take before the request is answered
            with `interim` and the handler's answer is posted when it is ready
            (Kommunicate waits 30 s per the older docs, 60 s per the current).
        interim: what an over-deadline request is answered with (default none).
        fallback: what a failed handler answers (default: a handoff to the routing
            rules with a short apology).
        store: answered keys (default: in memory, bounded); share one between
            workers so a redelivery to another worker is not answered twice.
        serialize: run one handler at a time per conversation.
        include_echoes: pass the bot's own messages and system messages to
            webhook handlers too.
        bot_ids: user ids whose webhook messages are echoes (the bots' own);
            the ids seen in bot requests are added as they arrive.
        insecure_no_auth: allow serving without checking who calls (tests only);
            warns once.
    """

    def __init__(
        self,
        km: KommunicateSession | None = None,
        *,
        bot_header: tuple[str, str | Iterable[str]] | None = None,
        webhook_token: str | Iterable[str] | None = None,
        reply_deadline: float = 25.0,
        interim: Iterable[Reply | RichMessage | str] | None = None,
        fallback: Iterable[Reply | RichMessage | str] | None = None,
        store: ReplyStore | None = None,
        serialize: bool = False,
        include_echoes: bool = False,
        bot_ids: Iterable[str] = (),
        insecure_no_auth: bool = False,
    ) -> None:
        deadline: object = reply_deadline
        if isinstance(deadline, bool) or not isinstance(deadline, int | float):
            raise ConfigurationError("reply_deadline must be a number of seconds")
        if not 0 < deadline <= 60:
            raise ConfigurationError("reply_deadline must be > 0 and at most 60 s")
        self.km = km
        self.reply_deadline = float(reply_deadline)
        self._bot_auth = None if bot_header is None else bot_header_check(bot_header)
        self._webhook_auth = (
            None if webhook_token is None else webhook_check(webhook_token)
        )
        self._insecure = insecure_no_auth
        self._warned = False
        self.handlers = Handlers()
        self.deliverer = Deliverer(km)
        self._fallback = reply_items(
            list(fallback) if fallback is not None else list(_DEFAULT_FALLBACK)
        )
        interim_bytes = encode_reply(reply_items(list(interim or [])))
        self.store: ReplyStore = store if store is not None else MemoryReplyStore()
        self._runs = Runs(self.store, post=self.deliverer.post, interim=interim_bytes)
        self._serialize = serialize
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}
        own: set[str] = set(bot_ids)
        if km is not None:
            own.add(km.on_behalf_of)
        self.webhooks = Webhooks(self.store, include_echoes=include_echoes, own_ids=own)
        self._closing = False

    # -- registration ---------------------------------------------------------------

    @overload
    def on_message(
        self, handler: F, *, bot_id: str | None = ..., event: str | None = ...
    ) -> F: ...

    @overload
    def on_message(
        self, handler: None = None, *, bot_id: str | None = ..., event: str | None = ...
    ) -> Callable[[F], F]: ...

    def on_message(
        self,
        handler: F | None = None,
        *,
        bot_id: str | None = None,
        event: str | None = None,
    ) -> F | Callable[[F], F]:
        """Register a custom-bot handler: `@app.on_message` or
        `@app.on_message(bot_id="sales-bot", event=None)`.

        Without `event=`, it gets plain messages (no `eventName`).
        """

        def register(func: F) -> F:
            self.handlers.add_message(func, bot_id=bot_id, event=event)
            return func

        return register if handler is None else register(handler)

    def on_event(self, event: str, *, bot_id: str | None = None) -> Callable[[F], F]:
        """Register a handler for one `eventName` (WELCOME, KOMMUNICATE_MEDIA_EVENT)."""

        def register(func: F) -> F:
            self.handlers.add_message(func, bot_id=bot_id, event=event)
            return func

        return register

    def on_webhook(self, handler: WebhookHandler) -> WebhookHandler:
        """Register a message-webhook handler (`async (message, ctx) -> None`)."""
        self.handlers.webhook.append(handler)
        return handler

    def on_token_check(self, handler: TokenHandler) -> TokenHandler:
        """Register the Access Token URL check (`async (user_id, token) -> bool`)."""
        self.handlers.token = handler
        return handler

    # -- the core ---------------------------------------------------------------------

    def check_ready(self) -> None:
        """Refuse to serve a kind whose handlers exist but whose auth is not set."""
        missing: list[str] = []
        if self.handlers.message and self._bot_auth is None:
            missing.append("bot_header")
        if self.handlers.webhook and self._webhook_auth is None:
            missing.append("webhook_token")
        if not missing:
            return
        if not self._insecure:
            raise ConfigurationError(
                f"set {' and '.join(missing)} (or insecure_no_auth=True for tests): "
                "anyone could otherwise call this bot"
            )
        if not self._warned:
            self._warned = True
            warnings.warn(
                "BotApp serves without checking who calls (insecure_no_auth=True)",
                RuntimeWarning,
                stacklevel=3,
            )

    async def handle(
        self, kind: Kind, headers: Mapping[str, str], body: bytes
    ) -> BotResponse:
        """Answer one request: a bot message, a webhook event or a token check."""
        self.check_ready()
        if self._closing:
            return BotResponse(503, _json_error("shutting down"))
        if kind == "token":
            return await self._token(body)
        auth = self._bot_auth if kind == "bot" else self._webhook_auth
        if not self._authorised(auth, headers, kind):
            return BotResponse(401, _json_error("unauthorized"))
        try:
            if kind == "bot":
                return await self._bot(parse_bot_request(body))
            message = parse_webhook_message(body)
        except InvalidPayloadError as exc:
            _log.warning("refused a %s request: %s", kind, exc)
            return BotResponse(400, _json_error(str(exc)))
        status = await self.webhooks.handle(
            message, self.km, self.handlers.webhook, self.reply_deadline
        )
        return BotResponse(status, b"{}")

    def _authorised(
        self, auth: HeaderCheck | None, headers: Mapping[str, str], kind: str
    ) -> bool:
        if auth is None:
            return self._insecure
        if auth.accepts(headers):
            return True
        _log.warning(
            "refused a %s request: missing or wrong %s header", kind, auth.header
        )
        return False

    async def _bot(self, request: BotRequest) -> BotResponse:
        if request.bot_id:
            self.webhooks.own_ids.add(request.bot_id)
        deadline = time.monotonic() + self.reply_deadline
        body = await self._runs.answer(
            request, lambda r: self._execute(r, deadline), deadline
        )
        return BotResponse(200, body)

    async def _execute(self, request: BotRequest, deadline: float) -> Answer:
        handler = self.handlers.route(request)
        if handler is None:
            return []
        ctx = BotContext(self.km, request, deadline)
        try:
            if self._serialize:
                async with self._lock(request.group_id):
                    result = await handler(request, ctx)
            else:
                result = await handler(request, ctx)
            return await apply_policies(reply_items(result), self.km, request.group_id)
        except Exception as exc:  # a handler bug: answer with the fallback, log it
            _log.error(
                "bot handler %s failed on message %s: %s",
                getattr(handler, "__qualname__", handler),
                request.key,
                type(exc).__name__,
                exc_info=exc,
            )
            return list(self._fallback)

    def _lock(self, group_id: int) -> _ConversationLock:
        return _ConversationLock(self._locks, group_id)

    async def _token(self, body: bytes) -> BotResponse:
        handler = self.handlers.token
        if handler is None:
            return BotResponse(404, _json_error("no token check"))
        try:
            user_id, token = parse_token_check(body)
        except InvalidPayloadError as exc:
            return BotResponse(400, _json_error(str(exc)))
        try:
            ok = bool(await handler(user_id, token))
        except Exception as exc:  # a failed check is a refusal, never an open door
            _log.error("token check failed: %s", type(exc).__name__, exc_info=exc)
            ok = False
        return BotResponse(200, b"true" if ok else b"false", "text/plain")

    # -- adapters -------------------------------------------------------------------

    def aiohttp_app(
        self,
        *,
        bot_path: str = "/bot",
        webhook_path: str = "/webhook",
        token_path: str | None = None,
    ) -> web.Application:
        """An `aiohttp.web.Application` serving the bot, the webhook (and the token
        check at `token_path`); it drains late answers on shutdown."""
        from ._aiohttp import build_aiohttp_app

        return build_aiohttp_app(self, _paths(bot_path, webhook_path, token_path))

    def asgi(
        self,
        *,
        bot_path: str = "/bot",
        webhook_path: str = "/webhook",
        token_path: str | None = None,
    ) -> AsgiBotApp:
        """The same, as a plain ASGI application (mount it in FastAPI/Starlette)."""
        from ._asgi import AsgiBotApp

        return AsgiBotApp(self, _paths(bot_path, webhook_path, token_path))

    # -- lifecycle ------------------------------------------------------------------

    @property
    def undelivered(self) -> list[Undelivered]:
        """Late answers that could not be posted (also logged at ERROR)."""
        return list(self.deliverer.undelivered)

    async def aclose(self, *, grace: float = 10.0) -> None:
        """Stop taking requests and let late answers finish, for up to `grace` s.

        What is still running then is cancelled and recorded in `undelivered`.
        """
        self._closing = True
        pending: set[asyncio.Task[Any]] = {*self._runs.tasks, *self.webhooks.tasks}
        if pending:
            _done, late = await asyncio.wait(pending, timeout=grace)
            for task in late:
                task.cancel()
            for request in self._runs.running():
                self.deliverer.fail(request, "shut down before the handler finished")
            if late:
                await asyncio.wait(late, timeout=1.0)


def _paths(bot: str, webhook: str, token: str | None) -> dict[str, Kind]:
    paths: dict[str, Kind] = {bot: "bot", webhook: "webhook"}
    if token is not None:
        paths[token] = "token"
    if len(paths) != (3 if token is not None else 2):
        raise ConfigurationError("bot_path, webhook_path and token_path must differ")
    return paths


class _ConversationLock:
    """`async with`: one handler at a time per conversation; the lock is dropped
    when nobody holds or waits for it, so memory follows live conversations."""

    __slots__ = ("_group_id", "_locks")

    def __init__(
        self, locks: dict[int, tuple[asyncio.Lock, int]], group_id: int
    ) -> None:
        self._locks = locks
        self._group_id = group_id

    async def __aenter__(self) -> None:
        lock, users = self._locks.get(self._group_id) or (asyncio.Lock(), 0)
        self._locks[self._group_id] = (lock, users + 1)
        try:
            await lock.acquire()
        except BaseException:
            self._leave()
            raise

    async def __aexit__(self, *_: object) -> None:
        self._locks[self._group_id][0].release()
        self._leave()

    def _leave(self) -> None:
        lock, users = self._locks[self._group_id]
        if users <= 1:
            del self._locks[self._group_id]
        else:
            self._locks[self._group_id] = (lock, users - 1)
