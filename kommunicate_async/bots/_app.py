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
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar, overload

from .._codec import encode
from .._errors import (
    ConfigurationError,
    CoordinationError,
    InvalidPayloadError,
    KommunicateError,
)
from .._telemetry import active as telemetry, note_bot_request, note_webhook
from ._auth import HeaderCheck, bot_header_check, header_values, webhook_check
from ._deliver import Deliverer, EventSender, RulesHandoff, Undelivered
from ._handlers import (
    Handlers,
    TokenHandler,
    WebhookHandler,
    parse_token_check,
)
from ._payloads import MAX_BODY, BotRequest, parse_bot_request, parse_webhook_message
from ._reply import Replies, Reply, encode_reply, reply_items
from ._routing import Router, filters_of
from ._runs import Answer, Runs
from ._shared_runs import SharedRuns, leased
from ._store import MemoryReplyStore, ReplyStore
from ._webhooks import Webhooks

if TYPE_CHECKING:
    from aiohttp import web

    from .._session import KommunicateSession
    from ._asgi import AsgiBotApp
    from ._state import StateStore

__all__ = ["BotApp", "BotResponse", "Kind"]

_log: Final = logging.getLogger("kommunicate_async.bots")
_JSON: Final = "application/json"
_DEFAULT_FALLBACK: Final = Reply.handoff(
    message="Sorry, something went wrong. Let me find you a person."
)
DEFAULT_BODY_TIMEOUT: Final = 10.0
"""Seconds a client has to send its whole body once its headers are in."""

Kind = Literal["bot", "webhook", "token"]
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])
Filter = Callable[[BotRequest], bool]


@dataclass(frozen=True, slots=True)
class BotResponse:
    """What to answer over HTTP."""

    status: int
    body: bytes
    content_type: str = _JSON


def _json_error(message: str) -> bytes:
    return encode({"error": message})


def _refuse_body_headers(
    content_encoding: str | None, content_length: str | None
) -> BotResponse | None:
    """415 for a compressed body, 400 for a bad Content-Length, 413 for one past
    MAX_BODY: all decided before a byte of the body is read."""
    if content_encoding is not None and content_encoding.strip().lower() not in (
        "",
        "identity",
    ):
        # Refused before a byte is inflated: Kommunicate sends plain JSON, and a
        # small compressed body can inflate to gigabytes.
        return BotResponse(415, _json_error("compressed bodies are not accepted"))
    if content_length is not None:
        digits = content_length.strip()
        if not (digits.isascii() and digits.isdigit()):
            return BotResponse(400, _json_error("bad Content-Length"))
        if len(digits) > 9 or int(digits) > MAX_BODY:
            return BotResponse(413, _json_error("request body too large"))
    return None


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
        interim: what an over-deadline request is answered with (default none):
            a str, a `Reply`, a `RichMessage`, or a sequence of them (a str is
            one message).
        fallback: what a failed handler answers, within milliseconds (the same
            types; default: a handoff to the routing rules with a short apology).
            A handler fails when it raises, is cancelled (other than by the
            app's shutdown), or returns something that cannot be sent.
        store: answered keys (default: in memory, bounded); share one between
            workers so a redelivery to another worker is not answered twice
            (`bots.redis.RedisReplyStore`: leases, fencing, and the order of
            `serialize` across replicas; docs/guides/many-replicas.md).
        serialize: run one handler at a time per conversation, in arrival order.
        state: where `ctx.state` lives (default: in memory, bounded;
            `bots.redis.RedisStateStore` to share it between replicas).
        include_echoes: pass the bot's own messages and system messages to
            webhook handlers too.
        bot_ids: user ids whose webhook messages are echoes (the bots' own);
            the ids seen in bot requests are added as they arrive.
        insecure_no_auth: allow serving without checking who calls (tests only);
            warns once.
        body_timeout: seconds a client has, once its headers are in, to send the
            whole body; past it the connection is closed and no handler runs.
        rules_handoff: how a *late* `Reply.handoff()` (to the routing rules) is
            made: "assignee_change" (`PATCH group/assignee/change` with
            `switchAssignee=true` and no assignee, UNCERTAIN) or "report" (left
            in `undelivered`).
        event_sender: who sends the hidden message that triggers a *late*
            `Reply.to_bot(..., event=...)`: "user" (as the widget does) or "bot".
    """

    def __init__(
        self,
        km: KommunicateSession | None = None,
        *,
        bot_header: tuple[str, str | Iterable[str]] | None = None,
        webhook_token: str | Iterable[str] | None = None,
        reply_deadline: float = 25.0,
        interim: Replies | None = None,
        fallback: Replies | None = None,
        store: ReplyStore | None = None,
        serialize: bool = False,
        include_echoes: bool = False,
        bot_ids: Iterable[str] = (),
        insecure_no_auth: bool = False,
        body_timeout: float = DEFAULT_BODY_TIMEOUT,
        rules_handoff: RulesHandoff = "assignee_change",
        event_sender: EventSender = "user",
        state: StateStore | None = None,
    ) -> None:
        self.reply_deadline = _seconds(reply_deadline, "reply_deadline", 60)
        self.body_timeout = _seconds(body_timeout, "body_timeout", 3600)
        if rules_handoff not in ("assignee_change", "report"):
            raise ConfigurationError('rules_handoff is "assignee_change" or "report"')
        if event_sender not in ("user", "bot"):
            raise ConfigurationError('event_sender is "user" or "bot"')
        self.km = km
        self._bot_auth = None if bot_header is None else bot_header_check(bot_header)
        self._webhook_auth = (
            None if webhook_token is None else webhook_check(webhook_token)
        )
        self._insecure = insecure_no_auth
        self._warned = False
        self.handlers = Handlers()
        if state is not None:
            self.handlers.state = state
        self.deliverer = Deliverer(
            km, rules_handoff=rules_handoff, event_sender=event_sender
        )
        fallback_items, fallback_bytes = _answer(
            _DEFAULT_FALLBACK if fallback is None else fallback, "fallback"
        )
        _, interim_bytes = _answer(interim, "interim")
        self.store: ReplyStore = store if store is not None else MemoryReplyStore()
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}
        self._runs = self._build_runs(
            km, interim_bytes, (fallback_items, fallback_bytes), serialize=serialize
        )
        own: set[str] = set(bot_ids)
        if km is not None:
            own.add(km.on_behalf_of)
        self.webhooks = Webhooks(self.store, include_echoes=include_echoes, own_ids=own)
        self._closing = False

    def _build_runs(
        self,
        km: KommunicateSession | None,
        interim: bytes,
        fallback: tuple[Answer, bytes],
        *,
        serialize: bool,
    ) -> Runs:
        """The runs: over a leased store shared by replicas (its own order for
        `serialize`), or the plain ones with an in-process lock."""
        shared = leased(self.store)
        options: dict[str, Any] = {
            "handlers": self.handlers,
            "deliverer": self.deliverer,
            "km": km,
            "interim": interim,
            "fallback": fallback,
        }
        if shared is not None:
            return SharedRuns(self.store, **options).share(shared, serialize=serialize)
        return Runs(self.store, lock=self._lock if serialize else None, **options)

    # -- registration ---------------------------------------------------------------

    @overload
    def on_message(
        self,
        handler: F,
        *,
        bot_id: str | None = ...,
        event: str | None = ...,
        when: Filter | Iterable[Filter] | None = ...,
    ) -> F: ...

    @overload
    def on_message(
        self,
        handler: None = None,
        *,
        bot_id: str | None = ...,
        event: str | None = ...,
        when: Filter | Iterable[Filter] | None = ...,
    ) -> Callable[[F], F]: ...

    def on_message(
        self,
        handler: F | None = None,
        *,
        bot_id: str | None = None,
        event: str | None = None,
        when: Filter | Iterable[Filter] | None = None,
    ) -> F | Callable[[F], F]:
        """Register a custom-bot handler: `@app.on_message` or
        `@app.on_message(bot_id="sales-bot", when=filters.text("help"))`.

        Without `event=`, it gets plain messages (no `eventName`). `when=` takes
        filters (`kommunicate_async.bots.filters`) that must all match; the first
        matching handler in registration order runs.
        """
        checks = filters_of(when)

        def register(func: F) -> F:
            self.handlers.add_message(func, bot_id=bot_id, event=event, filters=checks)
            return func

        return register if handler is None else register(handler)

    def on_event(
        self,
        event: str,
        *,
        bot_id: str | None = None,
        when: Filter | Iterable[Filter] | None = None,
    ) -> Callable[[F], F]:
        """Register a handler for one `eventName` (WELCOME, KOMMUNICATE_MEDIA_EVENT)."""
        return self.on_message(bot_id=bot_id, event=event, when=when)

    def on_default(self, handler: F) -> F:
        """The handler for plain messages no other handler matched (without one,
        an unmatched message is answered with nothing)."""
        return self.handlers.on_default(handler)

    def use(self, middleware: F) -> F:
        """Add middleware, `async (request, ctx, call_next)`, around every handler
        run; the first added is outermost. Raising in it is a handler failure."""
        return self.handlers.use(middleware)

    def include(self, router: Router) -> None:
        """Add a `Router`'s handlers after the ones registered so far."""
        self.handlers.include(router)

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
        if (self.handlers.message or self.handlers.default) and self._bot_auth is None:
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
        """Answer one request: a bot message, a webhook event or a token check.

        The same as `refuse(kind, headers)` and, when that passes, `answer(kind,
        body)`: an adapter calls those two, so a refused request's body is never
        read.
        """
        refused = self.refuse(kind, headers)
        if refused is not None:
            return refused
        return await self.answer(kind, body)

    def auth_header(self, kind: Kind) -> str | None:
        """The lower-case name of the header that authenticates `kind` (None: none)."""
        auth = self._auth(kind)
        return None if auth is None else auth.lower

    def refuse(self, kind: Kind, headers: Mapping[str, str]) -> BotResponse | None:
        """The answer from the headers alone (503, 401, 415, 413), or None to go on.

        `headers` may be a multidict (every copy of a header counts: a header sent
        twice is refused) or a plain mapping.
        """
        auth = self._auth(kind)
        values = (
            None
            if auth is None
            else [
                v.encode("utf-8", "surrogateescape")
                for v in header_values(headers, auth.lower)
            ]
        )
        encoding = header_values(headers, "content-encoding")
        length = header_values(headers, "content-length")
        return self.refuse_values(
            kind,
            values,
            encoding[0] if encoding else None,
            length[0] if length else None,
        )

    def refuse_values(
        self,
        kind: Kind,
        auth_values: Sequence[bytes] | None,
        content_encoding: str | None,
        content_length: str | None,
    ) -> BotResponse | None:
        """`refuse` for adapters that already picked the headers out: every value of
        the auth header (None if `kind` has none), Content-Encoding, Content-Length."""
        self.check_ready()
        if self._closing:
            return BotResponse(503, _json_error("shutting down"))
        refused = self._refuse_auth(kind, auth_values)
        if refused is not None:
            return refused
        return _refuse_body_headers(content_encoding, content_length)

    def _refuse_auth(
        self, kind: Kind, auth_values: Sequence[bytes] | None
    ) -> BotResponse | None:
        """401 unless the auth header `kind` needs is there, once, and right (a kind
        with none is open only for `token`, or when configured insecure)."""
        auth = self._auth(kind)
        if auth is None:
            if kind != "token" and not self._insecure:
                return BotResponse(401, _json_error("unauthorized"))
        elif not auth.accepts_values(auth_values or ()):
            _log.warning(
                "refused a %s request: missing, repeated or wrong %s header",
                kind,
                auth.header,
            )
            return BotResponse(401, _json_error("unauthorized"))
        return None

    def _auth(self, kind: Kind) -> HeaderCheck | None:
        if kind == "bot":
            return self._bot_auth
        if kind == "webhook":
            return self._webhook_auth
        return None

    async def answer(self, kind: Kind, body: bytes) -> BotResponse:
        """Answer a request whose headers `refuse` passed: decode, then handle.

        A shared store that cannot be reached (`CoordinationError`) is a 503: the
        platform retries, and no handler ran without its claim.
        """
        traced = telemetry()  # None unless OTel is set up: then a server span
        try:
            if traced is not None:
                return await traced.bot_request(self._answer, kind, body)
            return await self._answer(kind, body)
        except CoordinationError as exc:
            _log.error(
                "answered a %s request 503: %s: %s", kind, type(exc).__name__, exc
            )
            return BotResponse(503, _json_error("coordination store unavailable"))

    async def _answer(self, kind: Kind, body: bytes) -> BotResponse:
        try:
            if kind == "bot":
                return await self._bot(parse_bot_request(body))
            if kind == "token":
                return await self._token(body)
            message = parse_webhook_message(body)
        except InvalidPayloadError as exc:
            _log.warning("refused a %s request: %s", kind, exc)
            return BotResponse(400, _json_error(str(exc)))
        note_webhook(message)
        status = await self.webhooks.handle(
            message,
            self.km,
            self.handlers.webhook,
            time.monotonic() + self.reply_deadline,
        )
        return BotResponse(status, b"{}")

    async def _bot(self, request: BotRequest) -> BotResponse:
        note_bot_request(request)
        if request.bot_id:
            self.webhooks.own_ids.add(request.bot_id)
        deadline = time.monotonic() + self.reply_deadline
        return BotResponse(200, await self._runs.answer(request, deadline))

    def _lock(self, group_id: int) -> _ConversationLock:
        return _ConversationLock(self._locks, group_id)

    async def _token(self, body: bytes) -> BotResponse:
        handler = self.handlers.token
        if handler is None:
            return BotResponse(404, _json_error("no token check"))
        user_id, token = parse_token_check(body)
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

        What is still running then (a handler, or a late answer being posted) is
        cancelled and each one is reported in `undelivered` and logged: every
        late answer ends either posted or reported.
        """
        self._closing = True
        if isinstance(self._runs, SharedRuns):
            self._runs.stop()
        pending: set[asyncio.Task[Any]] = {*self._runs.tasks, *self.webhooks.tasks}
        if not pending:
            return
        _done, late = await asyncio.wait(pending, timeout=grace)
        for task in late:
            task.cancel()
        if late:  # each cancelled run reports itself as it unwinds
            await asyncio.wait(late, timeout=1.0)
        for run in self._runs.unsettled():  # a handler that ignored the cancel
            self._runs.give_up(run, "shut down before the handler finished")


def _seconds(value: object, name: str, most: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"{name} must be a number of seconds")
    if not 0 < value <= most:
        raise ConfigurationError(f"{name} must be > 0 and at most {most:g} s")
    return float(value)


def _answer(value: object, name: str) -> tuple[Answer, bytes]:
    """`interim=` or `fallback=` as replies and their bytes; checked once, here."""
    try:
        items = reply_items(value)
        return items, encode_reply(items)
    except KommunicateError as exc:
        raise ConfigurationError(
            f"{name} must be a str, a Reply, a RichMessage or a sequence of them "
            f"that can be sent: {exc}"
        ) from None


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
