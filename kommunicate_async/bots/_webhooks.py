"""Message-webhook events: echoes filtered, each message handled once.

Kommunicate POSTs *every* message of the account to the webhook, the bot's own and
the system's included. Echoes (a sender in `own_ids`) and system messages are
dropped unless `include_echoes`. UNCERTAIN (docs/wire.md#bots): what marks a system
message is not documented; `contentType` 10 and the HIDDEN/ARCHIVE categories are
the SDKs' markers.
"""

from __future__ import annotations

import asyncio
import logging
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
_SYSTEM_CONTENT_TYPES: Final = frozenset({10})
_SYSTEM_CATEGORIES: Final = frozenset({"HIDDEN", "ARCHIVE"})


def is_system(message: WebhookMessage) -> bool:
    """True for a system notice (an assignment, a status change, a hidden event)."""
    return (
        message.content_type in _SYSTEM_CONTENT_TYPES
        or message.metadata.get("category") in _SYSTEM_CATEGORIES
    )


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
        """The HTTP status to answer; handlers run at most once per key."""
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
        done, _ = await asyncio.wait({task}, timeout=deadline)
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
