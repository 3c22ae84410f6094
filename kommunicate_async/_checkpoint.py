"""The batch checkpoint: an append-only JSONL file, one line per state change.

Before an item's first attempt a `sending` line is written; after its last, its
final status. Each line is written with one unbuffered `write()`, so a crash, a
kill or Ctrl-C leaves a file that says which items were delivered (skipped on a
rerun), which failed (sent again) and which may have been sent (a rerun with
reconcile checks the conversation before sending them again).
"""

from __future__ import annotations

import bisect
import hashlib
import os
import time
from array import array
from dataclasses import dataclass, field
from typing import IO, Final

import msgspec

from ._errors import InvalidRequestError

__all__ = ["Checkpoint", "CheckpointLine", "KeySet", "key_hash"]

SENDING: Final = "sending"
_ENCODE: Final = msgspec.json.Encoder().encode
_SENDING: Final = b'{"key":%s,"status":"sending","index":%d,"at":%d}\n'
_MAX_PENDING: Final = 256
"""Deferred lines written at the latest when this many are waiting."""


def key_hash(key: str) -> int:
    """A stable 64-bit hash of a dedupe key (for sets, shards and resumes)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")


class CheckpointLine(msgspec.Struct, omit_defaults=True, frozen=True):
    """One line of the checkpoint file."""

    key: str
    status: str
    index: int
    at: int
    """Local time of the line, epoch milliseconds."""
    message_key: str | None = None
    error: str | None = None
    attempts: int = 0


class KeySet:
    """A set of 64-bit key hashes in a sorted array: 8 bytes an item, not ~70."""

    __slots__ = ("_sorted",)

    def __init__(self, hashes: array[int]) -> None:
        self._sorted = array("Q", sorted(hashes))

    def __contains__(self, value: object) -> bool:
        if not self._sorted or not isinstance(value, int):  # a first run: empty
            return False
        i = bisect.bisect_left(self._sorted, value)
        return i < len(self._sorted) and self._sorted[i] == value

    def __len__(self) -> int:
        return len(self._sorted)


@dataclass
class Checkpoint:
    """A checkpoint file: what an earlier run left, and the writer for this one."""

    path: str
    delivered: KeySet = field(default_factory=lambda: KeySet(array("Q")))
    uncertain: dict[int, int] = field(default_factory=dict[int, int])
    """Hash -> time (ms) of items that may have been sent: `sending` with no final
    line (a crash or cancel), or a final `ambiguous`."""
    _file: IO[bytes] | None = None
    _pending: list[bytes] = field(default_factory=list[bytes])

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Checkpoint:
        """Read what an earlier run left (if anything) and open for appending."""
        checkpoint = cls(os.fspath(path))
        checkpoint._load()
        try:
            checkpoint._file = open(checkpoint.path, "ab", buffering=0)
        except OSError as exc:
            raise InvalidRequestError(
                f"cannot write checkpoint {checkpoint.path!r}: {exc}"
            ) from exc
        return checkpoint

    def _load(self) -> None:
        try:
            handle = open(self.path, "rb")
        except FileNotFoundError:
            return
        except OSError as exc:
            raise InvalidRequestError(
                f"cannot read checkpoint {self.path!r}: {exc}"
            ) from exc
        decoder = msgspec.json.Decoder(CheckpointLine)
        delivered = array("Q")
        with handle:
            for raw in handle:
                try:
                    line = decoder.decode(raw)
                except (msgspec.DecodeError, msgspec.ValidationError):
                    continue  # a line cut short by a crash: its item counts as unsent
                h = key_hash(line.key)
                if line.status == "delivered":
                    delivered.append(h)
                    self.uncertain.pop(h, None)
                elif line.status in (SENDING, "ambiguous"):
                    self.uncertain[h] = line.at
                else:  # failed: definitely not delivered, send again
                    self.uncertain.pop(h, None)
        self.delivered = KeySet(delivered)
        for h in list(self.uncertain):
            if h in self.delivered:
                del self.uncertain[h]

    def sending(self, key: str, index: int) -> None:
        """Mark an item in flight, on disk before it is sent: a crash then leaves it
        marked, never silently unsent. Formatted directly (the same JSON a
        `CheckpointLine` makes): 2k instructions less an item than the Struct."""
        at = int(time.time() * 1000)
        self._write(_SENDING % (_ENCODE(key), index, at))

    def _write(self, data: bytes) -> None:
        """Append `data` now, with the deferred lines before it, in one write."""
        if self._file is not None:
            if self._pending:
                self._pending.append(data)
                data = b"".join(self._pending)
                self._pending.clear()
            self._file.write(data)

    def defer(self, line: CheckpointLine) -> None:
        """Append `line` with the next write (or at close).

        For final lines: one write per item instead of two (benchmarks/README.md).
        A crash before the next write loses them, and the rerun sees those items
        as in flight (reconciled, never assumed unsent).
        """
        if self._file is not None:
            self._pending.append(_ENCODE(line) + b"\n")
            if len(self._pending) >= _MAX_PENDING:
                self._file.write(b"".join(self._pending))
                self._pending.clear()

    def close(self) -> None:
        """Write what is deferred and close the file (idempotent)."""
        handle, self._file = self._file, None
        if handle is not None:
            if self._pending:
                handle.write(b"".join(self._pending))
                self._pending.clear()
            handle.close()
