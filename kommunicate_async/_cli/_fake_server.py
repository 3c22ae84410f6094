"""`kommunicate-async fake-server`: FakeKommunicate on a fixed port until Ctrl-C."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio

if TYPE_CHECKING:
    import argparse

    from ._output import Printer

__all__ = ["serve"]


async def serve(args: argparse.Namespace, out: Printer) -> int:
    """Serve until interrupted; prints how to point the library at it."""
    from ..testing import FakeKommunicate

    bare = {"auto": None, "yes": True, "no": False}[args.bare]
    fake = FakeKommunicate(
        api_key=args.api_key,
        app_id=args.app_id,
        host=args.host,
        port=args.port,
        bare=bare,
        keep_messages=args.keep_messages,
        token_valid_minutes=args.token_minutes,
        log_limit=0,
    )
    async with fake:
        out.line(f"FakeKommunicate listening on {fake.url} (Ctrl-C to stop)")
        out.line(
            f"  export KOMMUNICATE_BASE_URL={fake.url} KOMMUNICATE_CHAT_URL={fake.url}"
        )
        # The fake's key is not a secret: it only opens this local fake.
        out.line(f"  export KOMMUNICATE_API_KEY={args.api_key}")
        out.line(f"  export KOMMUNICATE_APP_ID={args.app_id}")
        out.document({"url": fake.url, "api_key": args.api_key, "app_id": args.app_id})
        await anyio.sleep_forever()
    return 0  # pragma: no cover - only Ctrl-C ends it
