"""`kommunicate-async`: the command-line tool (also `python -m kommunicate_async`)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Final

from .._errors import (
    APIConnectionError,
    APIError,
    ConfigurationError,
    InvalidRequestError,
    KommunicateError,
    ResponseValidationError,
)
from ._output import Printer
from ._parser import build_parser

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

__all__ = ["EXIT_API", "EXIT_CONFIG", "EXIT_NETWORK", "EXIT_USAGE", "main"]

EXIT_OK: Final = 0
EXIT_API: Final = 1
EXIT_USAGE: Final = 2
EXIT_CONFIG: Final = 3
EXIT_NETWORK: Final = 4
EXIT_INTERRUPTED: Final = 130


async def _dispatch(args: argparse.Namespace, out: Printer) -> int:
    if args.command == "demo":
        from ._demo import run_demo

        return await run_demo(args, out)
    if args.command == "send-batch":
        from ._send_batch import run_send_batch

        return await run_send_batch(args, out)
    if args.command == "fake-server":
        from ._fake_server import serve

        return await serve(args, out)
    from ._commands import run_command

    return await run_command(args, out)


def _exit_code(error: KommunicateError) -> int:
    if isinstance(error, ConfigurationError):
        return EXIT_CONFIG
    if isinstance(error, InvalidRequestError):
        return EXIT_USAGE
    if isinstance(error, APIConnectionError | ResponseValidationError):
        return EXIT_NETWORK
    return EXIT_API if isinstance(error, APIError) else EXIT_NETWORK


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv`, run the command, and return the exit code (never a traceback)."""
    args = build_parser().parse_args(argv)
    out = Printer(json=getattr(args, "json", False))
    try:
        return asyncio.run(_dispatch(args, out))
    except KommunicateError as error:
        out.error(type(error).__name__, str(error))
        return _exit_code(error)
    except KeyboardInterrupt:
        hint = (
            " (rerun with the same --checkpoint to resume)"
            if getattr(args, "checkpoint", None)
            else ""
        )
        out.error("Interrupted", "stopped by the user" + hint)
        return EXIT_INTERRUPTED
