"""The batch checkpoint: an append-only JSONL file, one line per state change.

Before an item's first attempt a `sending` line is written; after its last, its
final status. A crash, a kill or Ctrl-C leaves a file that says which items were
delivered (skipped on a rerun), which failed (sent again) and which may have been
sent (a rerun with reconcile checks the conversation before sending them again).

Besides item lines the file holds `run` lines (who writes, and how keys are
derived) and `clock` lines (the server's clock offset a run learned), so a rerun
can reconcile with the server's time, not ours. Rules that keep it honest:

- One writer: the file is locked (`flock`) for the whole batch; a second run gets a
  `CheckpointError` naming the holder's pid and host.
- A torn last line (a kill mid-write) is detected, reported in `torn`, and its item
  is treated as in flight; the next line starts on a line of its own.
- Every write is checked: a short write is finished, a failed one (a full disk) is
  a `CheckpointError`; a path that is not a regular file is refused.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import os
import re
import socket
import stat
import time
from array import array
from dataclasses import dataclass, field
from typing import Final

import msgspec

from .._errors import CheckpointError

__all__ = ["Checkpoint", "CheckpointLine", "KeySet", "Uncertain", "key_hash"]

SENDING: Final = "sending"
RUN: Final = "run"
CLOCK: Final = "clock"
CONTENT_KEYS: Final = "content"
"""`keys` of a run line: dedupe keys derived from content (see `_batch_options`)."""
_ENCODE: Final = msgspec.json.Encoder().encode
_SENDING: Final = b'{"key":%s,"status":"sending","index":%d,"at":%d}\n'
_MAX_PENDING: Final = 256
"""Deferred lines written at the latest when this many are waiting."""
_TORN_KEY: Final = re.compile(rb'^\{"key":("(?:[^"\\]|\\.)*")')


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
    offset: int | None = None
    """`clock` lines: the server's clock minus ours, in milliseconds."""
    pid: int | None = None
    host: str | None = None
    keys: str | None = None
    """`run` lines: how this run derives dedupe keys."""


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


class Uncertain(msgspec.Struct, frozen=True, gc=False):
    """An item an earlier run may have sent: when (our clock then), and the
    server's clock offset that run knew (None: unknown)."""

    at: int
    offset: int | None


class _Run:
    """What the lines of one earlier run share."""

    __slots__ = ("offset",)

    def __init__(self) -> None:
        self.offset: int | None = None


@dataclass
class Checkpoint:
    """A checkpoint file: what earlier runs left, and the writer for this one."""

    path: str
    delivered: KeySet = field(default_factory=lambda: KeySet(array("Q")))
    uncertain: dict[int, Uncertain] = field(default_factory=dict[int, Uncertain])
    """Hash -> when, of items that may have been sent: `sending` with no final
    line (a crash or cancel), a final `ambiguous`, or a torn last line."""
    content_keys: bool = True
    """False for a file an earlier version wrote (its keys counted positions)."""
    offset: int | None = None
    """The server's clock offset the latest earlier run learned."""
    torn: str | None = None
    """What a torn last line held, when the file ended with one."""
    _fd: int | None = None
    _pending: list[bytes] = field(default_factory=list[bytes])
    _written_offset: int | None = None

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Checkpoint:
        """Lock the file, read what earlier runs left, and start this run's lines.

        Raises:
            CheckpointError: not a regular file, held by another run, or it cannot
                be read or written.
        """
        checkpoint = cls(os.fspath(path))
        checkpoint._open_locked()
        try:
            ends_torn = checkpoint._load()
            run = CheckpointLine(
                "",
                RUN,
                -1,
                _now_ms(),
                pid=os.getpid(),
                host=socket.gethostname(),
                keys=CONTENT_KEYS if checkpoint.content_keys else "position",
            )
            # After a torn line, start on a line of our own (never glued to it).
            head = b"\n" if ends_torn else b""
            checkpoint._write_now(head + _ENCODE(run) + b"\n")
        except BaseException:
            checkpoint.close()
            raise
        return checkpoint

    def _open_locked(self) -> None:
        try:
            found = os.stat(self.path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise CheckpointError(
                f"cannot use checkpoint {self.path!r}: {exc}"
            ) from None
        else:
            if not stat.S_ISREG(found.st_mode):
                raise CheckpointError(f"checkpoint {self.path!r} is not a regular file")
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise CheckpointError(
                f"cannot open checkpoint {self.path!r}: {exc.strerror}"
            ) from None
        self._fd = fd
        try:
            import fcntl  # POSIX; elsewhere no single-writer lock
        except ImportError:  # pragma: no cover - not on POSIX
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._holder()
            self.close()
            raise CheckpointError(
                f"checkpoint {self.path!r} is in use by {holder} (another run of "
                "this batch?): wait for it to finish, or use another file"
            ) from None

    def _holder(self) -> str:
        """Who holds the lock: the newest `run` line names its pid and host."""
        pid, host = "another process", None
        with contextlib.suppress(OSError), open(self.path, "rb") as handle:
            for raw in handle:
                if b'"status":"run"' in raw:
                    try:
                        line = msgspec.json.decode(raw, type=CheckpointLine)
                    except msgspec.DecodeError:
                        continue
                    pid, host = f"process {line.pid}", line.host
        return pid if host is None else f"{pid} on {host}"

    def _load(self) -> bool:
        """Read earlier runs' lines; True when the file ends with a torn line."""
        try:
            handle = open(self.path, "rb")
        except OSError as exc:
            raise CheckpointError(
                f"cannot read checkpoint {self.path!r}: {exc.strerror}"
            ) from None
        decoder = msgspec.json.Decoder(CheckpointLine)
        delivered = array("Q")
        pending: dict[int, _Pending] = {}
        run = _Run()
        saw_items = saw_content_run = False
        last = b""
        with handle:
            for raw in handle:
                last = raw
                if not raw.endswith(b"\n"):
                    break  # the torn last line: handled below
                try:
                    line = decoder.decode(raw)
                except (msgspec.DecodeError, msgspec.ValidationError):
                    continue  # a line glued by an older version: not ours to read
                if line.status == RUN:
                    run = _Run()
                    saw_content_run |= line.keys == CONTENT_KEYS
                    continue
                if line.status == CLOCK:
                    run.offset = self.offset = line.offset
                    continue
                saw_items = True
                _note(line, delivered, pending, run)
        self.content_keys = saw_content_run or not saw_items
        torn = bool(last) and not last.endswith(b"\n")
        if torn:
            self._torn(last, run, pending)
        self.delivered = KeySet(delivered)
        # Offsets are known now: a run's clock line may come after its items.
        self.uncertain = {
            h: Uncertain(mark.at, mark.run.offset)
            for h, mark in pending.items()
            if h not in self.delivered
        }
        return torn

    def _torn(self, fragment: bytes, run: _Run, pending: dict[int, _Pending]) -> None:
        """A line cut short by a kill: its item may have been sent (or was
        delivered and not recorded), so it is in flight, never assumed either."""
        self.torn = fragment[:200].decode("utf-8", "replace")
        found = _TORN_KEY.match(fragment)
        if found is None:
            raise CheckpointError(
                f"checkpoint {self.path!r} ends with a torn line whose item cannot be "
                f"identified ({self.torn!r}): check that item by hand, then remove "
                "the line to go on"
            )
        key: str = msgspec.json.decode(found.group(1), type=str)
        pending[key_hash(key)] = _Pending(_now_ms(), run)

    # -- writing -----------------------------------------------------------------------

    def sending(self, key: str, index: int) -> None:
        """Mark an item in flight, on disk before it is sent: a crash then leaves it
        marked, never silently unsent. Formatted directly (the same JSON a
        `CheckpointLine` makes): 2k instructions less an item than the Struct."""
        at = int(time.time() * 1000)
        self._write(_SENDING % (_ENCODE(key), index, at))

    def clock(self, offset: int) -> None:
        """Record the server's clock offset (when it is new or moved by > 1 s)."""
        known = self._written_offset
        if self._fd is not None and (known is None or abs(known - offset) > 1000):
            self._written_offset = offset
            # Goes out with the next write, never now: learning the clock must not
            # fail the send it was learned from.
            line = CheckpointLine("", CLOCK, -1, _now_ms(), offset=offset)
            self._pending.append(_ENCODE(line) + b"\n")

    def _write(self, data: bytes) -> None:
        """Append `data` now, with the deferred lines before it, in one write."""
        if self._fd is not None:
            if self._pending:
                self._pending.append(data)
                data = b"".join(self._pending)
                self._pending.clear()
            self._write_now(data)

    def _write_now(self, data: bytes) -> None:
        """Write all of `data` (finishing short writes), or raise CheckpointError."""
        fd = self._fd
        if fd is None:
            return
        done = self._write_some(fd, data)
        if done == len(data):  # the common case: one whole write
            return
        view = memoryview(data)[done:]
        while view:
            view = view[self._write_some(fd, view) :]

    def _write_some(self, fd: int, data: bytes | memoryview) -> int:
        """One `os.write`; how much it wrote, or a CheckpointError (a full disk)."""
        try:
            done = os.write(fd, data)
        except OSError as exc:
            raise CheckpointError(
                f"cannot write checkpoint {self.path!r}: {exc.strerror}"
            ) from None
        if done <= 0:  # pragma: no cover - os.write raises instead
            raise CheckpointError(f"cannot write checkpoint {self.path!r}")
        return done

    def defer(self, line: CheckpointLine) -> None:
        """Append `line` with the next write (or at close).

        For final lines: one write per item instead of two (benchmarks/README.md).
        A crash before the next write loses them, and the rerun sees those items
        as in flight (reconciled, never assumed unsent).
        """
        if self._fd is not None:
            self._pending.append(_ENCODE(line) + b"\n")
            if len(self._pending) >= _MAX_PENDING:
                data = b"".join(self._pending)
                self._pending.clear()
                self._write_now(data)

    def flush(self) -> None:
        """Write what is deferred."""
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            self._write_now(data)

    def close(self) -> None:
        """Write what is deferred, unlock and close (idempotent).

        Raises:
            CheckpointError: the last lines could not be written (still closed).
        """
        fd = self._fd
        if fd is None:
            return
        try:
            self.flush()
        finally:
            self._fd = None
            os.close(fd)  # closing releases the flock


def _note(
    line: CheckpointLine,
    delivered: array[int],
    pending: dict[int, _Pending],
    run: _Run,
) -> None:
    h = key_hash(line.key)
    if line.status == "delivered":
        delivered.append(h)
        pending.pop(h, None)
    elif line.status in (SENDING, "ambiguous"):
        pending[h] = _Pending(line.at, run)
    else:  # failed: definitely not delivered, send again
        pending.pop(h, None)


class _Pending:
    """An earlier run's mark before its run's clock offset is known."""

    __slots__ = ("at", "run")

    def __init__(self, at: int, run: _Run) -> None:
        self.at = at
        self.run = run


def _now_ms() -> int:
    return int(time.time() * 1000)
