"""Send a campaign from a CSV (conversation,text) or JSONL file, resumably.

    python examples/bulk_send.py campaign.csv            # or campaign.jsonl

Every row ends delivered, failed (with its reason) or ambiguous; the checkpoint
(`<file>.checkpoint.jsonl`) lets a rerun after a crash or Ctrl-C skip what was
delivered and check, with reconcile, what may have been sent.
"""

from __future__ import annotations

import asyncio
import csv
import sys
from typing import TYPE_CHECKING

import msgspec

from kommunicate_async import BatchReport, KommunicateSession, OutgoingMessage

if TYPE_CHECKING:
    from collections.abc import Iterator


def read_items(path: str) -> Iterator[OutgoingMessage]:
    """The file's messages, one row at a time (never all in memory)."""
    if path.endswith(".jsonl"):
        decoder = msgspec.json.Decoder(OutgoingMessage)
        with open(path, "rb") as lines:
            yield from (decoder.decode(line) for line in lines if line.strip())
        return
    with open(path, newline="") as rows:
        for row in csv.DictReader(rows):
            yield OutgoingMessage(row["conversation"], row["text"])


async def send(path: str) -> BatchReport:
    async with KommunicateSession() as km:
        return await km.messages.send_many(
            read_items(path),
            concurrency=32,
            checkpoint=f"{path}.checkpoint.jsonl",
            reconcile=True,
        )


if __name__ == "__main__":
    report = asyncio.run(send(sys.argv[1]))
    print(
        f"{report.delivered} delivered, {report.failed} failed, "
        f"{report.ambiguous} ambiguous, {report.skipped} skipped"
    )
    for problem in report.problems:
        print(f"  item {problem.index + 1}: {problem.status.value}: {problem.error}")
    sys.exit(0 if report.ok else 5)
