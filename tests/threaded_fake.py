"""A FakeKommunicate on its own event loop in a thread, for code that runs asyncio.run."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from kommunicate_async.testing import FakeKommunicate


class ThreadedFake:
    """A FakeKommunicate on its own event loop in a thread (main() runs asyncio.run)."""

    def __init__(self, **options: Any) -> None:
        """`options` go to `FakeKommunicate` (default key: "cli-test-key")."""
        self.fake = FakeKommunicate(**{"api_key": "cli-test-key", **options})
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def serve() -> None:
            async with self.fake:
                self._ready.set()
                await self._stop.wait()

        self._loop.run_until_complete(serve())
        self._loop.close()

    def __enter__(self) -> FakeKommunicate:
        self._thread.start()
        assert self._ready.wait(10)
        return self.fake

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
