"""A FastAPI app that talks to Kommunicate with one session for its whole life.

    KOMMUNICATE_API_KEY=... uvicorn examples.fastapi_app:create_app --factory

One `KommunicateSession` (one connection pool) is opened at startup and closed at
shutdown; every request handler shares it, whatever the number of concurrent
requests.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

from kommunicate_async import KommunicateError, KommunicateSession, NotFoundError

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator


class Notice(BaseModel):
    text: str


def create_app(km: KommunicateSession | None = None) -> FastAPI:
    """The app; `km` defaults to a session configured from the environment."""
    session = km if km is not None else KommunicateSession()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncGenerator[None]:
        async with session:
            yield

    app = FastAPI(lifespan=lifespan)

    @app.post("/conversations/{conversation}/notices")
    async def notify(conversation: str, notice: Notice) -> dict[str, str]:
        try:
            sent = await session.messages.send(conversation, notice.text)
        except NotFoundError:
            raise HTTPException(404, "no such conversation") from None
        except KommunicateError as exc:  # typed, one line, no secret in it
            raise HTTPException(502, f"Kommunicate: {type(exc).__name__}") from None
        return {"message_key": sent.key}

    @app.get("/users/{user_id}/unread")
    async def unread(user_id: str) -> dict[str, int]:
        return {"unread": await session.unread.count(user_id)}

    return app
