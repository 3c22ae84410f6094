"""`kommunicate-async send-batch FILE.jsonl`: a batch with a live progress bar."""

from __future__ import annotations

import sys
import time
from typing import IO, TYPE_CHECKING, Final

import msgspec

from .._errors import InvalidRequestError
from ..models.batch import BatchReport, ItemResult, OutgoingMessage, Progress
from ._commands import session_from_args

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator

    from ._output import Printer

__all__ = ["EXIT_INCOMPLETE", "run_send_batch"]

EXIT_INCOMPLETE: Final = 5
_QUIET_EVERY: Final = 10.0
_BAR: Final = 24


def count_items(path: str) -> int:
    """Check every line before anything is sent; the number of items."""
    decoder = msgspec.json.Decoder(OutgoingMessage)
    total = 0
    try:
        with open(path, "rb") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    decoder.decode(line)
                except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                    raise InvalidRequestError(f"{path}:{number}: {exc}") from None
                total += 1
    except OSError as exc:
        raise InvalidRequestError(f"cannot read {path}: {exc.strerror}") from None
    return total


def read_items(path: str) -> Iterator[OutgoingMessage]:
    """The items of a JSONL file, one line at a time."""
    decoder = msgspec.json.Decoder(OutgoingMessage)
    with open(path, "rb") as handle:
        for line in handle:
            if line.strip():
                yield decoder.decode(line)


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


def _result_line(result: ItemResult) -> dict[str, object]:
    error = result.error
    return {
        "index": result.index,
        "dedupe_key": result.item.dedupe_key,
        "status": result.status.value,
        "message_key": result.message_key,
        "attempts": result.attempts,
        "error": None if error is None else f"{type(error).__name__}: {error}",
    }


async def run_send_batch(args: argparse.Namespace, out: Printer) -> int:
    """Send every line of the file; exit 5 if any item failed or is ambiguous."""
    total = count_items(args.file)
    bar = None if args.json or args.no_progress else ProgressBar(total, sys.stderr)
    report = BatchReport()
    started = time.monotonic()
    async with session_from_args(args) as km:
        try:
            async with km.messages.iter_send(
                read_items(args.file),
                concurrency=args.concurrency,
                rate_limit=args.rate,
                checkpoint=args.checkpoint,
                reconcile=args.reconcile,
                on_progress=bar,
            ) as results:
                async for result in results:
                    report.add(result)
                    out.document(_result_line(result))
                report.skipped = results.progress().skipped
        finally:
            if bar is not None:
                bar.close()
    report.duration = time.monotonic() - started
    _summary(report, args, out)
    return 0 if report.ok else EXIT_INCOMPLETE


def _summary(report: BatchReport, args: argparse.Namespace, out: Printer) -> None:
    rate = report.total / report.duration if report.duration > 0 else 0.0
    out.line(
        f"{report.total} sent in {report.duration:.1f}s ({rate:,.0f}/s): "
        f"{report.delivered} delivered, {report.failed} failed, "
        f"{report.ambiguous} ambiguous, "
        f"{report.skipped} skipped, {report.attempts} attempts"
    )
    for problem in report.problems[:20]:
        line = _result_line(problem)
        out.line(f"  #{problem.index} {line['status']}: {line['error']}")
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
            }
        }
    )
