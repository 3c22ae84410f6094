"""Delivery proof from the message webhook: `EchoStore`.

Kommunicate POSTs every message of the account to the message webhook, the ones a
campaign sent included (docs/wire.md#bots). An echo that carries a batch's dedupe
key (`kmDedupeKey` in its metadata) proves that message was stored: a batch item
whose send was ambiguous is then `delivered` without reading the conversation.

Feed it from a `BotApp` (`include_echoes=True`, `app.on_webhook(store.on_webhook)`)
or call `store.record(...)` from any receiver, in the process that sends the
batch (`send_many(..., echoes=store)`).

UNCERTAIN: Kommunicate's webhook docs show `metadata` only on attachment messages;
whether a text message's echo carries it is not documented. Without it, echoes
prove nothing and reconcile reads the history as before.

Memory stays bounded: at most `max_entries` echoes are kept (oldest dropped first),
and only echoes that carry a dedupe key.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Final

from .._metadata import MetadataKey

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = ["EchoStore"]

_DEDUPE: Final = MetadataKey.DEDUPE_KEY.value


class EchoStore:
    """Echoes of a campaign's own messages: (conversation, dedupe key) -> message key.

    A conversation is known by its groupId and by its clientGroupId (the echo
    carries both), so an item may name either.
    """

    __slots__ = ("_changed", "_seen", "max_entries", "recorded")

    def __init__(self, *, max_entries: int = 500_000) -> None:
        self.max_entries = max_entries
        self._seen: OrderedDict[tuple[int | str, str], str] = OrderedDict()
        self._changed: asyncio.Event | None = None
        self.recorded = 0
        """Echoes with a dedupe key recorded so far."""

    def record(
        self,
        message_key: str,
        metadata: Mapping[str, Any] | None,
        *,
        group_id: int | None = None,
        client_group_id: str | None = None,
    ) -> bool:
        """Record one webhook message; True when it carried a dedupe key."""
        dedupe = (metadata or {}).get(_DEDUPE)
        if not isinstance(dedupe, str) or not dedupe:
            return False
        for ref in (group_id, client_group_id):
            if ref is not None:
                self._seen[(ref, dedupe)] = message_key
        while len(self._seen) > self.max_entries:
            self._seen.popitem(last=False)
        self.recorded += 1
        if self._changed is not None:
            self._changed.set()
        return True

    async def on_webhook(self, message: Any, _ctx: object = None) -> None:
        """A `BotApp.on_webhook` handler: record a `WebhookMessage`."""
        self.record(
            message.key,
            message.metadata,
            group_id=message.group_id,
            client_group_id=message.client_group_id,
        )

    def find(self, conversation: int | str, dedupe_key: str) -> str | None:
        """The message key of the echo of `dedupe_key` in `conversation`, if seen."""
        return self._seen.get((conversation, dedupe_key))

    async def wait_for(
        self, wanted: Iterable[tuple[int | str, str]], seconds: float
    ) -> dict[tuple[int | str, str], str]:
        """The echoes of `wanted` seen within `seconds` (returns as soon as every
        one is in)."""
        pending = set(wanted)
        found: dict[tuple[int | str, str], str] = {}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            for ref in list(pending):
                key = self._seen.get(ref)
                if key is not None:
                    found[ref] = key
                    pending.discard(ref)
            left = deadline - loop.time()
            if not pending or left <= 0:
                return found
            if self._changed is None:
                self._changed = asyncio.Event()
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except TimeoutError:
                pass
