"""An echo bot that hands the conversation to a person when asked (aiohttp).

Set up a custom bot in the Kommunicate dashboard ("Bot integration" -> "Other bot
platforms") with this server's URL + /bot and a request header X-Bot-Token, then:

    KOMMUNICATE_API_KEY=... BOT_TOKEN=<the header's value> python examples/echo_bot.py
"""

from __future__ import annotations

import os

from aiohttp import web

from kommunicate_async import KommunicateSession, rich
from kommunicate_async.bots import BotApp, BotContext, BotRequest, Reply


def build(km: KommunicateSession, bot_token: str) -> BotApp:
    """The bot: echo, a menu, and a handoff on "human"."""
    app = BotApp(km, bot_header=("X-Bot-Token", bot_token), reply_deadline=25)

    @app.on_event("WELCOME")
    async def welcome(request: BotRequest, ctx: BotContext) -> rich.RichMessage:
        return rich.suggested_replies("Hi! How can I help?", ["Order status", "Human"])

    @app.on_message
    async def answer(request: BotRequest, ctx: BotContext) -> Reply | str:
        if "human" in request.text.lower():
            return Reply.handoff(message="Connecting you to a person now.")
        return f"You said: {request.text}"

    return app


async def serve() -> web.Application:
    """The aiohttp application, with one session for its whole life."""
    km = KommunicateSession()
    app = build(km, os.environ["BOT_TOKEN"]).aiohttp_app()

    async def close_session(_: web.Application) -> None:
        await km.aclose()

    app.on_cleanup.append(close_session)
    return app


if __name__ == "__main__":
    web.run_app(serve(), port=int(os.environ.get("PORT", "8080")))
