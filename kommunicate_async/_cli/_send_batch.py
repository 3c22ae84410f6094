"""`kommunicate-async send-batch FILE`: a batch (JSONL or CSV, `_batch_input.py`)
with a live progress bar."""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Final

from .._errors import BatchStoppedError, InvalidRequestError
from ..models.batch import (
    BatchReport,
    ItemResult,
    ItemStatus,
    OutgoingMessage,
    Progress,
)
from ._batch_input import BatchInput, input_format, refuse_same_file
from ._commands import session_from_args

if TYPE_CHECKING:
    import argparse
    from array import array
    from collections.abc import Iterator

    from ._output import Printer

__all__ = ["EXIT_INCOMPLETE", "run_send_batch"]

EXIT_INCOMPLETE: Final = 5
_QUIET_EVERY: Final = 10.0
_BAR: Final = 24


def open_input(path: str) -> IO[bytes]:
    """The file, or standard input (`-`) copied to a temporary file first: every
    line is checked before anything is sent, so the input is read twice."""
    if path != "-":
        try:
            return open(path, "rb")
        except OSError as exc:
            raise InvalidRequestError(f"cannot read {path}: {exc.strerror}") from None
    spool = tempfile.TemporaryFile()
    shutil.copyfileobj(sys.stdin.buffer, spool)
    spool.seek(0)
    return spool


class ProgressBar:
    """A one-line bar on a terminal; a status line every 10 s elsewhere."""

    def __init__(self, total: int, stream: IO[str]) -> None:
        self.total = total
        self.stream = stream
        self.live = stream.isatty()
        self._last_quiet = time.monotonic()

    def __call__(self, progress: Progress) -> None:
        finished = progress.done + progress.skipped
        share = finished / self.total if self.total else 1.0
        eta = (self.total - finished) / progress.rate if progress.rate > 0 else 0.0
        text = (
            f"{finished}/{self.total} delivered {progress.delivered} "
            f"failed {progress.failed} ambiguous {progress.ambiguous} | "
            f"{progress.rate:,.0f}/s | ETA {_clock(eta)}"
        )
        if self.live:
            filled = int(share * _BAR)
            self.stream.write(f"\r[{'#' * filled}{'.' * (_BAR - filled)}] {text}\x1b[K")
            self.stream.flush()
        elif time.monotonic() - self._last_quiet >= _QUIET_EVERY:
            self._last_quiet = time.monotonic()
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        """End the bar's line."""
        if self.live:
            self.stream.write("\n")


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


@dataclass(slots=True)
class BatchTally:
    """The run's report, and what the summary says beyond it."""

    report: BatchReport = field(default_factory=BatchReport)
    found_sent: int = 0
    """Delivered items an earlier run had in flight that --reconcile found in the
    conversation: delivered with no attempt of this run, not sent again."""
    interrupted: bool = False

    def add(self, result: ItemResult) -> None:
        self.report.add(result)
        if result.status is ItemStatus.DELIVERED and result.attempts == 0:
            self.found_sent += 1


def _result_line(result: ItemResult, lines: array[int]) -> dict[str, object]:
    error = result.error
    return {
        "index": result.index,
        "line": lines[result.index],
        "dedupe_key": result.item.dedupe_key,
        "status": result.status.value,
        "message_key": result.message_key,
        "attempts": result.attempts,
        "error": None if error is None else f"{type(error).__name__}: {error}",
    }


def _error_text(result: ItemResult) -> str:
    from . import for_shell

    error = result.error
    return "-" if error is None else for_shell(f"{type(error).__name__}: {error}")


async def run_send_batch(args: argparse.Namespace, out: Printer) -> int:
    """Send every line of the file; exit 5 if any item failed or is ambiguous."""
    name = "<stdin>" if args.file == "-" else args.file
    refuse_same_file(args.file, args.checkpoint)
    with open_input(args.file) as handle:
        source = BatchInput(handle, name, input_format(args.file, args.format))
        lines = source.check()
        bar = (
            None
            if args.json or args.no_progress
            else ProgressBar(len(lines), sys.stderr)
        )
        tally = BatchTally()
        try:
            await _send(args, out, source.items(), lines, bar, tally)
        except BatchStoppedError:  # the summary first, then the reason
            _summary(tally, lines, args, out)
            raise
        except (asyncio.CancelledError, KeyboardInterrupt):  # Ctrl-C
            tally.interrupted = True
            _summary(tally, lines, args, out)
            raise
    _summary(tally, lines, args, out)
    return 0 if tally.report.ok else EXIT_INCOMPLETE


async def _send(
    args: argparse.Namespace,
    out: Printer,
    items: Iterator[OutgoingMessage],
    lines: array[int],
    bar: ProgressBar | None,
    tally: BatchTally,
) -> None:
    report = tally.report
    started = time.monotonic()
    async with session_from_args(args) as km:
        try:
            async with km.messages.iter_send(
                items,
                concurrency=args.concurrency,
                rate_limit=args.rate,
                checkpoint=args.checkpoint,
                reconcile=args.reconcile,
                shard=args.shard,
                max_attempts=args.max_attempts,
                settle=args.settle,
                broadcast=not args.no_broadcast,
                broadcast_chunk=args.broadcast_chunk,
                on_progress=bar,
            ) as results:
                try:
                    async for result in results:
                        tally.add(result)
                        out.document(_result_line(result, lines))
                finally:
                    report.skipped = results.progress().skipped
                    report.duration = time.monotonic() - started
        except BatchStoppedError as stop:
            stop.report = report
            raise
        finally:
            if bar is not None:
                bar.close()
    report.duration = time.monotonic() - started


def _headline(tally: BatchTally) -> str:
    report = tally.report
    rate = report.total / report.duration if report.duration > 0 else 0.0
    found = (
        f" ({tally.found_sent} found already sent by --reconcile, not sent again)"
        if tally.found_sent
        else ""
    )
    before = " before the interrupt" if tally.interrupted else ""
    counts = (
        f"{report.delivered} delivered{before}{found}, {report.failed} failed, "
        f"{report.ambiguous} ambiguous, "
        f"{report.skipped} skipped, {report.attempts} attempts"
    )
    if tally.interrupted:
        return f"Interrupted after {report.duration:.1f}s: {counts}"
    return f"{report.total} items in {report.duration:.1f}s ({rate:,.0f}/s): {counts}"


def _summary(
    tally: BatchTally, lines: array[int], args: argparse.Namespace, out: Printer
) -> None:
    report = tally.report
    out.line(_headline(tally))
    for problem in report.problems[:20]:
        out.line(
            f"  line {lines[problem.index]}: {problem.status.value}: "
            f"{_error_text(problem)}"
        )
    if len(report.problems) > 20:
        out.line(f"  … and {len(report.problems) - 20} more (use --json for all)")
    if report.ambiguous and not args.reconcile:
        out.line(
            "Ambiguous items may have been sent; rerun with --reconcile to check them."
        )
    out.document(
        {
            "summary": {
                "total": report.total,
                "delivered": report.delivered,
                "failed": report.failed,
                "ambiguous": report.ambiguous,
                "skipped": report.skipped,
                "attempts": report.attempts,
                "duration": round(report.duration, 3),
                "found_sent": tally.found_sent,
                "interrupted": tally.interrupted,
            }
        }
    )
