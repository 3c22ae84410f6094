"""`await request.user()`: the sender's details (`users.get`), cached per conversation.

The first call in a conversation fetches the user and keeps it in the conversation's
state for `USER_TTL` seconds (in Redis when the app's state is there, so every
replica shares it); later calls, in any handler or middleware, read it from there.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Final

from .._errors import ConfigurationError
from ..models.user import User

if TYPE_CHECKING:
    from ._handlers import BotContext
    from ._payloads import BotRequest

__all__ = ["USER_TTL", "bind_user"]

USER_TTL: Final = 60.0
"""Seconds a fetched user is reused within a conversation."""


def bind_user(request: BotRequest, ctx: BotContext) -> BotRequest:
    """`request` whose `user()` fetches through `ctx` (its session and state)."""

    async def load() -> User:
        if ctx.km is None:
            raise ConfigurationError(
                "request.user() needs a BotApp with a KommunicateSession"
            )
        name = f"kommunicate.user:{request.sender}"
        cached = await ctx.state.get(name, type=User)
        if cached is not None:
            return cached
        user = await ctx.km.users.get(request.sender)
        await ctx.state.set(name, user, ttl=USER_TTL)
        return user

    return dataclasses.replace(request, users=load)
