"""The bot delivery kit of `FakeKommunicate`: its public, documented methods.

The work is done by `_bots.BotDriver` (`fake.bots`); these methods are what
`help(FakeKommunicate)` and editors show.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ._bots import BotDelivery, BotDriver

__all__ = ["BotDeliveryKit"]


class BotDeliveryKit:
    """Play Kommunicate's side of a bot or a message webhook against your app."""

    bots: BotDriver

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
        """Do what Kommunicate does when a user writes to a custom bot.

        Stores `text` from `sender` in conversation `group_id`, POSTs the custom-bot
        request (`key`, `from`, `message`, `groupId`, `metadata.KM_CHAT_CONTEXT`, ...)
        to `url` and applies the answer as Kommunicate would: each reply item with
        a text becomes a message from `bot_id`, `KM_ASSIGN_TO` hands the
        conversation over (`""`: to the fake's `routing_agent`) and
        `actionRequest: resolveConversation` resolves it.

        Args:
            url: your bot's URL (`RunningBot.bot_url` from `serve_bot`).
            text: the user's message.
            group_id: the conversation (it must exist in the fake).
            bot_id: the bot the request is for (the sender of its answers).
            sender: the user who writes.
            event: an event name (`"WELCOME"`, ...): sent as `eventName`.
            attachments: file metas, as `KM_CHAT_CONTEXT.attachments`.
            chat_context: more `KM_CHAT_CONTEXT` keys.
            header: the dashboard's custom header `(name, value)`, if your bot
                checks one (`BotApp(bot_header=...)`).
            http_timeout: seconds to wait for the answer.
            apply: False plays an answer lost on its way back (Kommunicate would
                redeliver): it is returned but not applied.

        Returns:
            The status, body and decoded reply array of the POST.
        """
        return await self.bots.deliver_bot_message(
            url,
            text,
            group_id=group_id,
            bot_id=bot_id,
            sender=sender,
            event=event,
            attachments=attachments,
            chat_context=chat_context,
            header=header,
            http_timeout=http_timeout,
            apply=apply,
        )

    async def redeliver(
        self, key: str, *, http_timeout: float = 60.0, apply: bool = True
    ) -> BotDelivery:
        """POST the bot request of message `key` again, byte for byte, as
        Kommunicate's retry does, and apply the answer (unless `apply=False`).

        `key` is `BotDelivery.key` of an earlier `deliver_bot_message`; a key never
        delivered raises `KeyError`.
        """
        return await self.bots.redeliver(key, http_timeout=http_timeout, apply=apply)

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
        """Store a message and POST it to a message webhook, as Kommunicate does.

        Args:
            url: your webhook's URL (`RunningBot.webhook_url` from `serve_bot`).
            text: the message.
            group_id: the conversation (it must exist in the fake).
            sender: who wrote it (your bot's id plays its own echo).
            token: the webhook's token, sent as `Authentication: Basic
                base64(token)` (`BotApp(webhook_token=...)`).
            metadata: the message's metadata (strings, as on the wire).
            key: the message key to send instead of the stored one (a
                redelivered webhook reuses its key).
            http_timeout: seconds to wait for the answer.

        Returns:
            The status and body of the POST (`replies` stays empty: a webhook's
            answer is not applied).
        """
        return await self.bots.deliver_webhook(
            url,
            text,
            group_id=group_id,
            sender=sender,
            token=token,
            metadata=metadata,
            key=key,
            http_timeout=http_timeout,
        )
