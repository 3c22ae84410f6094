"""`kommunicate-async settle CHECKPOINT`: settle a batch's ambiguous items later,
from each conversation's history, without sending (`_batch/settle.py`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from ._commands import session_from_args

if TYPE_CHECKING:
    import argparse

    from ._output import Printer

__all__ = ["add_settle_parser", "run_settle"]

EXIT_INCOMPLETE: Final = 5


def add_settle_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add `settle` to the top-level subparsers."""
    settle = sub.add_parser(
        "settle",
        parents=[common],
        help="settle a checkpoint's ambiguous items from history, sending nothing",
    )
    settle.add_argument("checkpoint", help="the checkpoint file of a send-batch run")
    settle.add_argument(
        "--lookback",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="read each conversation back this long before the item was first "
        "marked in flight (default: 300)",
    )


async def run_settle(args: argparse.Namespace, out: Printer) -> int:
    """Settle; exit 5 when items are still ambiguous or in flight."""
    async with session_from_args(args) as km:
        report = await km.messages.settle(args.checkpoint, lookback=args.lookback)
    out.line(
        f"settled {args.checkpoint}: {report.delivered} delivered, "
        f"{report.failed} failed (a rerun sends them), "
        f"{report.ambiguous} still ambiguous, {report.in_flight} in flight"
    )
    if report.in_flight:
        out.line(
            "Items in flight name no conversation: rerun send-batch with the same "
            "input, --checkpoint and --reconcile to settle them."
        )
    out.document(
        {
            "settled": {
                "delivered": report.delivered,
                "failed": report.failed,
                "ambiguous": report.ambiguous,
                "in_flight": report.in_flight,
            }
        }
    )
    return 0 if report.ok else EXIT_INCOMPLETE
