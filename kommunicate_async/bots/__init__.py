"""Bot workers: receive Kommunicate's custom-bot requests and message webhooks.

    from kommunicate_async.bots import BotApp, BotContext, BotRequest, Reply

    app = BotApp(km, bot_header=("X-Bot-Token", secret), webhook_token=token)

    @app.on_message
    async def answer(request: BotRequest, ctx: BotContext) -> Reply | str:
        if "human" in request.text.lower():
            return Reply.handoff()
        return f"You said: {request.text}"

    web_app = app.aiohttp_app()        # or app.asgi() for FastAPI / Starlette

Every request is authenticated, decoded and answered once per message key, within
the reply deadline or, when a handler is slow, by posting its answer later.
"""

from __future__ import annotations

from .._public import claim
from . import filters
from ._app import BotApp, BotResponse, Kind
from ._auth import WEBHOOK_HEADER
from ._deliver import Undelivered, dedupe_key
from ._handlers import BotContext, WebhookContext
from ._payloads import (
    MAX_BODY,
    MAX_DEPTH,
    Attachment,
    BotRequest,
    WebhookFile,
    WebhookMessage,
    parse_bot_request,
    parse_webhook_message,
)
from ._reply import Replies, Reply
from ._routing import CallNext, Middleware, Router
from ._state import (
    ConversationState,
    MemoryStateStore,
    StateConflictError,
    StateStore,
)
from ._store import MemoryReplyStore, ReplyRecord, ReplyStore
from ._webhooks import is_system

__all__ = [
    "MAX_BODY",
    "MAX_DEPTH",
    "WEBHOOK_HEADER",
    "Attachment",
    "BotApp",
    "BotContext",
    "BotRequest",
    "BotResponse",
    "CallNext",
    "ConversationState",
    "Kind",
    "MemoryReplyStore",
    "MemoryStateStore",
    "Middleware",
    "Replies",
    "Reply",
    "ReplyRecord",
    "ReplyStore",
    "Router",
    "StateConflictError",
    "StateStore",
    "Undelivered",
    "WebhookContext",
    "WebhookFile",
    "WebhookMessage",
    "dedupe_key",
    "filters",
    "is_system",
    "parse_bot_request",
    "parse_webhook_message",
]

claim(__name__, globals())  # reprs and tracebacks read the public path
