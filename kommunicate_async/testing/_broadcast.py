"""The fake's broadcast (`message/sendall`) and its message-webhook echoes.

`POST /rest/ws/message/sendall` takes `{"groupIds" | "clientGroupIds": [...],
"messageObject": {"message", "metadata"?}}` (at most 50 targets; `userNames` is
refused: the fake has no one-to-one chats), stores one message per conversation
and answers `success` as plain text (enveloped when the fake is not bare). Every
target is checked first: an unknown one refuses the whole request (an error
envelope), nothing stored. The real server's reply and its handling of bad
targets are UNCERTAIN (docs/guides/campaigns.md): this is a plausible model.

Echoes: with `fake.webhook_url` set, every message stored by a send
(`message/v2/send` and `message/sendall`) is POSTed there as Kommunicate's
message webhook does (the documented body, with `metadata`), in the background,
at most 16 at once; `fake.echoes.sent` counts them, `await fake.echoes.drain()`
waits for them.
"""

from __future__ import annotations

import asyncio
import base64
from typing import TYPE_CHECKING, Any, Final

import aiohttp
import msgspec
from aiohttp import web

if TYPE_CHECKING:
    from ._routes import Routes
    from ._server import FakeKommunicate
    from ._state import FakeGroup, FakeMessage

__all__ = ["Echoer", "SendAll", "sendall"]

MAX_TARGETS: Final = 50


class MessageObject(msgspec.Struct, frozen=True):
    message: str = ""
    metadata: dict[str, Any] | None = None


class SendAll(msgspec.Struct, frozen=True, rename="camel"):
    """The `message/sendall` body (Applozic "Broadcast Message"; iOS core SDK)."""

    message_object: MessageObject | None = None
    group_ids: list[int] | None = None
    client_group_ids: list[str] | None = None
    user_names: list[str] | None = None


async def sendall(routes: Routes, request: web.Request) -> web.Response:
    """Store the message in every target conversation; answer `success`."""
    if routes.fake.refuse_sendall:  # a server where Api-Key cannot reach it
        raise routes.fail("unauthorized user", status=401, code="AL-UN-01")
    sender = routes.actor(request, platform=False, need_user=True)
    body: SendAll = await routes.body(request, SendAll)
    message = body.message_object
    if message is None or not message.message:
        raise routes.fail("messageObject.message is required", status=400)
    if body.user_names:
        raise routes.fail("userNames: the fake has no one-to-one chats", status=400)
    groups = _targets(routes, body)
    metadata = routes.strings(message.metadata)
    fake = routes.fake
    assert sender is not None
    for group in groups:
        stored = fake.state.send(group, sender, message.message, dict(metadata))
        fake.echoes.send(stored)
    if fake.bare is False:
        return routes.ok("success")
    return web.Response(text="success", content_type="text/plain")


def _targets(routes: Routes, body: SendAll) -> list[FakeGroup]:
    numeric = body.group_ids or []
    named = body.client_group_ids or []
    if not numeric and not named:
        raise routes.fail("groupIds or clientGroupIds is required", status=400)
    if len(numeric) > MAX_TARGETS or len(named) > MAX_TARGETS:
        raise routes.fail(f"at most {MAX_TARGETS} groups a request", status=400)
    found = [routes.state.find_group(g, None) for g in numeric]
    found += [routes.state.find_group(None, c) for c in named]
    if any(group is None for group in found):
        raise routes.fail("group not found", code="AL-G-01")
    return [group for group in found if group is not None]


class Echoer:
    """POSTs stored messages to `fake.webhook_url`, as the message webhook does."""

    def __init__(self, fake: FakeKommunicate) -> None:
        self.fake = fake
        self.sent = 0
        """Echoes delivered (any HTTP answer)."""
        self.failed = 0
        """Echoes that could not be delivered (no answer)."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._http: aiohttp.ClientSession | None = None
        self._gate = asyncio.Semaphore(16)

    def send(self, message: FakeMessage) -> None:
        """Echo `message` in the background (when a webhook URL is set)."""
        if self.fake.webhook_url is None:
            return
        task = asyncio.get_running_loop().create_task(self._post(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait until every echo started so far is delivered (or failed)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def _post(self, message: FakeMessage) -> None:
        url = self.fake.webhook_url
        assert url is not None
        group = self.fake.state.groups[message.group_id]
        payload = {
            "key": message.key,
            "from": message.sender,
            "groupId": message.group_id,
            "clientGroupId": message.client_group_id,
            "groupName": group.name,
            "message": message.text,
            "timeStamp": message.created_at,
            "receiverConnected": False,
            "metadata": dict(message.metadata),
        }
        headers = {"Content-Type": "application/json"}
        token = self.fake.webhook_token
        if token is not None:
            headers["Authentication"] = (
                "Basic " + base64.b64encode(token.encode()).decode()
            )
        async with self._gate:
            if self._http is None:
                self._http = aiohttp.ClientSession(
                    timeout=aiohttp.ClientTimeout(total=30)
                )
            try:
                async with self._http.post(
                    url, data=msgspec.json.encode(payload), headers=headers
                ) as reply:
                    await reply.read()
                self.sent += 1
            except (aiohttp.ClientError, TimeoutError):
                self.failed += 1
