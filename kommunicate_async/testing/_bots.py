"""FakeKommunicate's side of bots: POST realistic requests to a bot, apply its answer.

Kommunicate stores the user's message, POSTs it to the bot's URL with the dashboard
header, and turns each item of the reply array into a message from the bot (a
`KM_ASSIGN_TO` item also hands the conversation over, `actionRequest:
resolveConversation` resolves it). `deliver_bot_message` does the same against a
bot app on loopback; `redeliver` POSTs one request again, as a retry would.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import aiohttp
import msgspec

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ._server import FakeKommunicate
    from ._state import FakeGroup

__all__ = ["BotDelivery", "BotDriver"]


@dataclass(frozen=True, slots=True)
class BotDelivery:
    """What `FakeKommunicate.deliver_bot_message`, `redeliver` and
    `deliver_webhook` return: one POST to your app and what came back.

        delivery = await fake.deliver_bot_message(url, "hi", group_id=chat.id,
                                                  bot_id="bot")
        assert delivery.status == 200
        assert delivery.replies == [{"message": "You said: hi"}]

    Attributes:
        key: the message key of the delivered message (the one to `redeliver`).
        status: the HTTP status your app answered.
        body: your app's answer, byte for byte.
        replies: the bot's reply array, decoded: one `{"message", "metadata"?}`
            item per message. Empty unless a 200 with a JSON array (always empty
            for a webhook, whose answer Kommunicate ignores).
    """

    key: str
    status: int
    body: bytes
    replies: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])

    @property
    def ok(self) -> bool:
        """True when your app answered 2xx."""
        return 200 <= self.status < 300


def _stringify(metadata: Mapping[str, Any]) -> dict[str, str]:
    return {
        k: v if isinstance(v, str) else msgspec.json.encode(v).decode()
        for k, v in metadata.items()
    }


class BotDriver:
    """Delivers messages and webhook events to bots for one fake."""

    def __init__(self, fake: FakeKommunicate) -> None:
        self.fake = fake
        self.sent: dict[str, tuple[str, bytes, dict[str, str]]] = {}
        """key -> (url, body, headers) of every bot request, for `redeliver`."""

    async def deliver_bot_message(
        self,
        url: str,
        text: str,
        *,
        group_id: int,
        bot_id: str,
        sender: str = "user",
        event: str | None = None,
        attachments: Sequence[Mapping[str, Any]] = (),
        chat_context: Mapping[str, Any] | None = None,
        header: tuple[str, str] | None = None,
        http_timeout: float = 60.0,
        apply: bool = True,
    ) -> BotDelivery:
        """Store `text` from `sender`, POST it to the bot, apply the bot's answer.

        `apply=False` plays an answer lost on its way back (Kommunicate would then
        redeliver): it is returned but not applied.
        """
        key, group = self.prepare_bot_request(
            url,
            text,
            group_id=group_id,
            bot_id=bot_id,
            sender=sender,
            event=event,
            attachments=attachments,
            chat_context=chat_context,
            header=header,
        )
        return await self._post(key, group, bot_id, http_timeout, apply)

    def prepare_bot_request(
        self,
        url: str,
        text: str,
        *,
        group_id: int,
        bot_id: str,
        sender: str = "user",
        event: str | None = None,
        attachments: Sequence[Mapping[str, Any]] = (),
        chat_context: Mapping[str, Any] | None = None,
        header: tuple[str, str] | None = None,
    ) -> tuple[str, FakeGroup]:
        """Store `text` from `sender` and build the bot request Kommunicate would
        POST to `url` (kept in `sent`); the message key and its conversation."""
        state = self.fake.state
        group = self.fake.conversation(group_id)
        stored = state.send(group, sender, text, {})
        context: dict[str, Any] = {
            "kmUserLocale": "en",
            "groupId": str(group.id),
            "botId": bot_id,
            "from": sender,
            "attachments": list(attachments),
            **(chat_context or {}),
        }
        request: dict[str, Any] = {
            "botId": bot_id,
            "key": stored.key,
            "from": sender,
            "message": text,
            "groupId": group.id,
            "metadata": {"KM_CHAT_CONTEXT": context},
            "contentType": 0,
            "applicationKey": self.fake.app_id,
            "source": 1,
            "createdAt": stored.created_at,
        }
        if event is not None:
            request["eventName"] = event
        headers = {"Content-Type": "application/json"}
        if header is not None:
            headers[header[0]] = header[1]
        self.sent[stored.key] = (url, msgspec.json.encode(request), headers)
        return stored.key, group

    async def redeliver(
        self, key: str, *, http_timeout: float = 60.0, apply: bool = True
    ) -> BotDelivery:
        """POST the request of message `key` again (a retry), and apply its answer."""
        _, body, _ = self.sent[key]
        request = msgspec.json.decode(body)
        group = self.fake.conversation(int(request["groupId"]))
        return await self._post(key, group, str(request["botId"]), http_timeout, apply)

    async def _post(
        self, key: str, group: FakeGroup, bot_id: str, http_timeout: float, apply: bool
    ) -> BotDelivery:
        url, body, headers = self.sent[key]
        async with (
            aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=http_timeout)
            ) as http,
            http.post(url, data=body, headers=headers) as reply,
        ):
            raw = await reply.read()
            status = reply.status
        replies: list[dict[str, Any]] = []
        if status == 200:
            decoded: object = msgspec.json.decode(raw)
            if isinstance(decoded, list):
                items = cast("list[object]", decoded)
                replies = [
                    cast("dict[str, Any]", r) for r in items if isinstance(r, dict)
                ]
        if apply:
            self.apply(group, bot_id, replies)
        return BotDelivery(key, status, raw, replies)

    def apply(
        self, group: FakeGroup, bot_id: str, replies: Sequence[Mapping[str, Any]]
    ) -> None:
        """What Kommunicate does with a reply array."""
        state = self.fake.state
        state.ensure_user(bot_id)
        for item in replies:
            metadata: dict[str, Any] = dict(item.get("metadata") or {})
            text = item.get("message")
            if isinstance(text, str) and text:
                state.send(group, bot_id, text, _stringify(metadata))
            target = metadata.get("KM_ASSIGN_TO")
            if isinstance(target, str):
                # "" applies the conversation rules: the fake's rule is its first agent
                chosen = target or self.fake.routing_agent or ""
                group.metadata["CONVERSATION_ASSIGNEE"] = chosen
                if chosen:
                    state.add_member(group, chosen)
            if metadata.get("actionRequest") == "resolveConversation":
                group.metadata["CONVERSATION_STATUS"] = "2"

    async def deliver_webhook(
        self,
        url: str,
        text: str,
        *,
        group_id: int,
        sender: str = "user",
        token: str | None = None,
        metadata: Mapping[str, str] | None = None,
        key: str | None = None,
        http_timeout: float = 60.0,
    ) -> BotDelivery:
        """Store a message and POST it to a message webhook, as Kommunicate does."""
        group = self.fake.conversation(group_id)
        stored = self.fake.state.send(group, sender, text, dict(metadata or {}))
        message_key = key or stored.key
        payload = {
            "key": message_key,
            "from": sender,
            "groupId": group.id,
            "clientGroupId": group.client_group_id,
            "groupName": group.name,
            "message": text,
            "timeStamp": stored.created_at,
            "receiverConnected": False,
            "metadata": dict(metadata or {}),
        }
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authentication"] = (
                "Basic " + base64.b64encode(token.encode()).decode()
            )
        async with (
            aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=http_timeout)
            ) as http,
            http.post(url, data=msgspec.json.encode(payload), headers=headers) as reply,
        ):
            return BotDelivery(message_key, reply.status, await reply.read())
