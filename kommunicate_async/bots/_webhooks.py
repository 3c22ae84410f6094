"""Message-webhook events: echoes and system messages filtered, each message once.

Kommunicate POSTs *every* message of the account to the webhook, the bot's own and
the system's included. Echoes (a sender in `own_ids`) and system messages are
dropped unless `include_echoes`. What marks a system message is not documented:
`is_system` follows what Kommunicate's web widget hides (docs/wire.md#bots).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Final

from ._handlers import WebhookContext
from ._store import ReplyRecord

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .._session import KommunicateSession
    from ._handlers import WebhookHandler
    from ._payloads import WebhookMessage
    from ._store import ReplyStore

__all__ = ["Webhooks", "is_system"]

_log: Final = logging.getLogger("kommunicate_async.bots")
_SYSTEM_CONTENT_TYPES: Final = frozenset({10, 11, 102, 103})
_SYSTEM_CATEGORIES: Final = frozenset({"HIDDEN", "PUSHNOTIFICATION"})
_ACTION_KEYS: Final = ("KM_STATUS", "KM_ASSIGN", "KM_TRIGGER_EVENT")
_DELETE_KEY: Final = "AL_DELETE_GROUP_MESSAGE_FOR_ALL"
_HANDOFF_KEYS: Final = ("KM_ASSIGN_TO", "KM_ASSIGN_TEAM")


def is_system(message: WebhookMessage) -> bool:
    """True for a message Kommunicate's web widget does not show as a chat message.

    The markers (UNCERTAIN: undocumented; each one is what the SDKs hide):

    - `contentType` 10 (a channel notice: "Assigned to X"), 11 (hidden), 102 and
      103 (calls), when the body has a `contentType` (the documented webhook body
      has none, so there the metadata markers decide);
    - `metadata.category` `HIDDEN` or `PUSHNOTIFICATION`;
    - `metadata.hide == "true"`;
    - an action key: `KM_STATUS` (a status change), `KM_ASSIGN` (an assignment
      notice), `KM_TRIGGER_EVENT` (a bot event trigger),
      `AL_DELETE_GROUP_MESSAGE_FOR_ALL` (a deletion);
    - `KM_ASSIGN_TO` or `KM_ASSIGN_TEAM` on a message without text (with text it is
      a bot's visible handoff message, which the widget shows).

    `category: ARCHIVE` alone is *not* a marker: Kommunicate's own server puts it on
    the visible welcome message.
    """
    if message.content_type in _SYSTEM_CONTENT_TYPES:
        return True
    metadata = message.metadata
    if not metadata:
        return False
    if metadata.get("category") in _SYSTEM_CATEGORIES:
        return True
    if metadata.get("hide") == "true":
        return True
    if any(key in metadata for key in _ACTION_KEYS) or _DELETE_KEY in metadata:
        return True
    return not message.text.strip() and any(key in metadata for key in _HANDOFF_KEYS)


class Webhooks:
    """Runs the webhook handlers once per message key."""

    def __init__(
        self, store: ReplyStore, *, include_echoes: bool, own_ids: set[str]
    ) -> None:
        self._store = store
        self.include_echoes = include_echoes
        self.own_ids = own_ids
        self.tasks: set[asyncio.Task[bool]] = set()

    def skipped(self, message: WebhookMessage) -> bool:
        """True for an echo or a system message, unless echoes are wanted."""
        if self.include_echoes:
            return False
        return message.sender.strip() in self.own_ids or is_system(message)

    async def handle(
        self,
        message: WebhookMessage,
        km: KommunicateSession | None,
        handlers: Sequence[WebhookHandler],
        deadline: float,
    ) -> int:
        """The HTTP status to answer; handlers run at most once per key.

        `deadline` is a `time.monotonic()` instant, as everywhere in `BotApp`: past
        it, the request is answered 200 and the handlers finish in the background.
        """
        if not handlers or self.skipped(message):
            return 200
        key = f"webhook:{message.key}"
        if not await self._store.claim(key):
            return 200  # a redelivery of a message already handled (or in hand)
        task = asyncio.get_running_loop().create_task(
            self._run(key, message, WebhookContext(km), handlers)
        )
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        done, _ = await asyncio.wait(
            {task}, timeout=max(0.0, deadline - time.monotonic())
        )
        if not done:
            return 200  # still running: it finishes in the background
        return 200 if task.result() else 500

    async def _run(
        self,
        key: str,
        message: WebhookMessage,
        ctx: WebhookContext,
        handlers: Sequence[WebhookHandler],
    ) -> bool:
        for handler in handlers:
            try:
                await handler(message, ctx)
            except Exception as exc:  # answer 500 and forget the key: a retry may work
                _log.error(
                    "webhook handler failed on message %s: %s",
                    message.key,
                    type(exc).__name__,
                    exc_info=exc,
                )
                await self._store.release(key)
                return False
        await self._store.put(key, ReplyRecord(b"{}"))
        return True
