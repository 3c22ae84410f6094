"""A bot that hands off only to someone who can answer (aiohttp).

"human" asks the `HandoffPolicy`: the account manager if online, else an online
agent of the support team, else the team, else the routing rules; out of hours or
with nobody online the bot says so and keeps the conversation.

    KOMMUNICATE_API_KEY=... KOMMUNICATE_APP_ID=... BOT_TOKEN=... \\
        python examples/handoff_bot.py
"""

from __future__ import annotations

import os

from aiohttp import web

from kommunicate_async import KommunicateSession
from kommunicate_async.bots import BotApp, BotContext, BotRequest, Reply
from kommunicate_async.handoff import HandoffPolicy

POLICY = HandoffPolicy(
    preferred_agent=os.environ.get("ACCOUNT_MANAGER", "manager@acme.io"),
    team_id=os.environ.get("SUPPORT_TEAM"),
    team_agents=[a for a in os.environ.get("SUPPORT_AGENTS", "").split(",") if a],
    offline_action="keep_bot",
)


def build(
    km: KommunicateSession, bot_token: str, policy: HandoffPolicy = POLICY
) -> BotApp:
    """The bot: answers, and a policy-driven handoff on "human"."""
    app = BotApp(km, bot_header=("X-Bot-Token", bot_token), reply_deadline=25)

    @app.on_message
    async def answer(request: BotRequest, ctx: BotContext) -> Reply | str:
        if "human" in request.text.lower():
            return Reply.handoff(message="Connecting you to a person.", policy=policy)
        return "Ask me anything, or type 'human' for a person."

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
