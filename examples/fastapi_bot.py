"""A FastAPI app with the bot mounted at /kommunicate and one session for its life.

    KOMMUNICATE_API_KEY=... BOT_TOKEN=... WEBHOOK_TOKEN=... \
        uvicorn examples.fastapi_bot:create_app --factory

Kommunicate's custom bot then calls /kommunicate/bot and the message webhook
/kommunicate/webhook.
"""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI

from kommunicate_async import KommunicateSession
from kommunicate_async.bots import (
    BotApp,
    BotContext,
    BotRequest,
    Reply,
    WebhookContext,
    WebhookMessage,
)

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator


def create_app(km: KommunicateSession | None = None) -> FastAPI:
    """The FastAPI app; `km` defaults to a session configured from the environment."""
    session = km if km is not None else KommunicateSession()
    bot = BotApp(
        session,
        bot_header=("X-Bot-Token", os.environ["BOT_TOKEN"]),
        webhook_token=os.environ["WEBHOOK_TOKEN"],
    )
    inbox: list[str] = []

    @bot.on_message
    async def answer(request: BotRequest, ctx: BotContext) -> Reply | str:
        if request.form_data:
            return f"Thanks {request.form_data.get('Name', '')}, we got your form."
        return Reply.handoff() if request.text == "agent" else "Let me check that."

    @bot.on_webhook
    async def record(message: WebhookMessage, ctx: WebhookContext) -> None:
        inbox.append(message.text)  # e.g. write it to your CRM

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncGenerator[None]:
        async with session:  # one pool for the app's whole life
            yield
            await bot.aclose()  # mounted apps get no lifespan of their own

    api = FastAPI(lifespan=lifespan)
    api.state.inbox = inbox

    @api.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    api.mount("/kommunicate", bot.asgi())
    return api
