"""`kommunicate-async`: the command-line tool (also `python -m kommunicate_async`)."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import TYPE_CHECKING, Final

from .._errors import (
    APIConnectionError,
    APIError,
    BatchStoppedError,
    CheckpointError,
    ConfigurationError,
    InvalidRequestError,
    KommunicateError,
    ResponseValidationError,
)
from .._logging import setup_from_env
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
EXIT_BROKEN_PIPE: Final = 128 + 13
"""What a shell reports for a program ended by SIGPIPE (`yes | head`: 141)."""


async def _dispatch(args: argparse.Namespace, out: Printer) -> int:
    if args.command == "demo":
        from ._demo import run_demo

        return await run_demo(args, out)
    if args.command == "send-batch":
        from ._send_batch import run_send_batch

        return await run_send_batch(args, out)
    if args.command == "settle":
        from ._settle import run_settle

        return await run_settle(args, out)
    if args.command == "doctor":
        from ._doctor import run_doctor

        return await run_doctor(args, out)
    if args.command == "fake-server":
        from ._fake_server import serve

        return await serve(args, out)
    if args.command == "campaign":
        from ._campaign import run_campaign

        return await run_campaign(args, out)
    from ._commands import run_command

    return await run_command(args, out)


def _exit_code(error: KommunicateError) -> int:
    if isinstance(error, BatchStoppedError):  # the code of what stopped it
        return _exit_code(error.reason)
    if isinstance(error, ConfigurationError | CheckpointError):
        return EXIT_CONFIG
    if isinstance(error, InvalidRequestError):
        return EXIT_USAGE
    if isinstance(error, APIConnectionError | ResponseValidationError):
        return EXIT_NETWORK
    return EXIT_API if isinstance(error, APIError) else EXIT_NETWORK


_SHELL_WORDS: Final = (
    ("rerun with reconcile=True", "rerun with --reconcile"),
    ("pass api_key= or set", "set"),
    ("Timeouts.connect must be > 0", "--timeout must be > 0"),
    ("Timeouts.attempt must be > 0", "--timeout must be > 0"),
    ("Timeouts.total must be > 0", "--timeout must be > 0"),
    ("concurrency must be an int >= 1", "--concurrency must be at least 1"),
    ("rate_limit must be a number of requests/second > 0", "--rate must be > 0"),
    ("max_attempts must be an int >= 1", "--max-attempts must be at least 1"),
    ("shard must be (k, n) with 0 <= k < n", "--shard must be K/N with 0 <= K < N"),
    ("settle must be a number of seconds >= 0", "--settle must be >= 0"),
    ("broadcast_chunk must be an int", "--broadcast-chunk must be an int"),
)
"""Library wording (Python spellings) and what a shell user types instead."""


def for_shell(text: str) -> str:
    """An error message in the spellings of the command line."""
    for python, shell in _SHELL_WORDS:
        text = text.replace(python, shell)
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv`, run the command, and return the exit code (never a traceback).

    A reader that goes away (`kommunicate-async demo --json | head -c 10`) ends
    the command quietly with the conventional exit code 141.
    """
    try:
        return _run(argv)
    except BrokenPipeError:
        return _after_broken_pipe()


def _after_broken_pipe() -> int:
    """Point stdout at /dev/null, so the interpreter's own flush at exit does not
    print a second error (the Python docs' "Note on SIGPIPE")."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)
    return EXIT_BROKEN_PIPE


def _run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "verbose", False):
        setup_from_env("debug")
    out = Printer(json=getattr(args, "json", False))
    try:
        return asyncio.run(_dispatch(args, out))
    except KommunicateError as error:
        out.error(type(error).__name__, for_shell(str(error)))
        return _exit_code(error)
    except KeyboardInterrupt:
        if args.command == "fake-server":  # Ctrl-C is how it is meant to stop
            out.line("FakeKommunicate stopped")
            return EXIT_OK
        hint = (
            " (rerun with the same --checkpoint and --reconcile to resume: items in "
            "flight are checked, not sent twice)"
            if getattr(args, "checkpoint", None)
            else ""
        )
        out.error("Interrupted", "stopped by the user" + hint)
        return EXIT_INTERRUPTED
