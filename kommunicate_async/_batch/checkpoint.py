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
- Every write is checked: a short write is finished, a failed one (a full disk) is
  cut back to where it began (no partial line of ours stays) and is a
  `CheckpointError`; a path that is not a regular file is refused.
- A torn last line all the same (a power cut, a failed cut-back) is reported in
  `torn`; its item is in flight, never assumed either way. A line cut inside its
  key names no item, and needs none: it is either the `sending` line of an item
  never sent (a send waits for its whole line) or the outcome of an item whose
  complete `sending` line comes before it, which is in flight already. The next
  line starts on a line of its own.

`Checkpoint` has the ledger face of a `scaleout.BatchStore` (`open`, `begin`,
`finish`, `clock`, `close`), so a batch holds one ledger, a file or a shared store.
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
from time import time_ns as _time_ns
from typing import Final, Literal

import msgspec

from .._errors import CheckpointError

__all__ = [
    "Begin",
    "Checkpoint",
    "CheckpointLine",
    "KeySet",
    "Uncertain",
    "key_hash",
]

SENDING: Final = "sending"
RUN: Final = "run"
CLOCK: Final = "clock"
CONTENT_KEYS: Final = "content"
"""`keys` of a run line: dedupe keys derived from content (see `_batch_options`)."""
_ENCODER: Final = msgspec.json.Encoder()
_ENCODE: Final = _ENCODER.encode
_ENCODE_INTO: Final = _ENCODER.encode_into
_SENDING: Final = b'{"key":%s,"status":"sending","index":%d,"at":%d}\n'
_MAX_PENDING: Final = 64 * 1024
"""Deferred lines written at the latest when this many bytes are waiting."""
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
    conversation: int | str | None = None
    """Final lines: the item's conversation (`settle` reads it there)."""
    sent_key: str | None = None
    """Final lines of a broadcast item: the dedupe key its request carried."""


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


Begin = Uncertain | Literal["new", "delivered"]
"""What a ledger's `begin` found: a new item (now marked in flight), one already
delivered (skip it), or an earlier run's in-flight mark (reconcile it)."""


class _Run:
    """What the lines of one earlier run share."""

    __slots__ = ("offset",)

    def __init__(self) -> None:
        self.offset: int | None = None


class Checkpoint:
    """A checkpoint file: what earlier runs left, and the writer for this one."""

    __slots__ = (
        "_earlier",
        "_fd",
        "_pending",
        "_size",
        "_written_offset",
        "content_keys",
        "delivered",
        "offset",
        "path",
        "torn",
        "uncertain",
    )

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self.delivered = KeySet(array("Q"))
        self.uncertain: dict[int, Uncertain] = {}
        """Hash -> when, of items that may have been sent: `sending` with no final
        line (a crash or cancel), a final `ambiguous`, or a torn last line."""
        self.content_keys = True
        """False for a file an earlier version wrote (its keys counted positions)."""
        self.offset: int | None = None
        """The server's clock offset the latest earlier run learned."""
        self.torn: str | None = None
        """What a torn last line held, when the file ended with one."""
        self._earlier = False  # any item of an earlier run to look up?
        self._fd: int | None = None
        self._size = 0  # the file's length when it was opened
        self._pending = bytearray()
        """Deferred lines (outcomes, clock), written before the next line."""
        self._written_offset: int | None = None

    # -- the ledger face (`scaleout.BatchStore`) ---------------------------------------

    async def open(self) -> None:
        """`open_now`, as a ledger."""
        self.open_now()

    async def begin(self, key: str, index: int) -> Begin:
        """Skip a delivered item; mark any other in flight, on disk before it is
        sent (a crash then leaves it marked, never silently unsent), returning an
        earlier run's mark to reconcile.

        Raises:
            CheckpointError: the mark could not be written (so it is not sent).
        """
        earlier: Uncertain | None = None
        if self._earlier:  # a first run looks nothing up (and hashes nothing)
            hashed = key_hash(key)
            if hashed in self.delivered:
                return "delivered"
            earlier = self.uncertain.get(hashed)
        # Formatted directly (the JSON a `CheckpointLine` makes, 2k instructions
        # less an item than the Struct).
        self._write(_SENDING % (_ENCODE(key), index, _time_ns() // 1_000_000))
        return "new" if earlier is None else earlier

    async def finish(self, line: CheckpointLine) -> None:
        """Record an item's final line, with the next write (or at close).

        One write per item instead of two (benchmarks/README.md). A crash before
        the next write loses the line, and the rerun sees the item in flight
        (reconciled, never assumed unsent).
        """
        if self._fd is not None:
            pending = self._pending  # encoded in place: no bytes object, no join
            _ENCODE_INTO(line, pending, -1)
            pending += b"\n"
            if len(pending) >= _MAX_PENDING:
                self._write(b"")

    async def clock(self, offset: int) -> None:
        """Record the server's clock offset (when it is new or moved by > 1 s)."""
        known = self._written_offset
        if self._fd is not None and (known is None or abs(known - offset) > 1000):
            self._written_offset = offset
            # Goes out with the next write, never now: learning the clock must not
            # fail the send it was learned from.
            line = CheckpointLine("", CLOCK, -1, _now_ms(), offset=offset)
            self._pending += _ENCODE(line) + b"\n"

    async def close(self) -> None:
        """`close_now`, as a ledger."""
        self.close_now()

    # -- opening -----------------------------------------------------------------------

    @classmethod
    def opened(cls, path: str | os.PathLike[str]) -> Checkpoint:
        """A checkpoint at `path`, opened now (`open_now`)."""
        checkpoint = cls(path)
        checkpoint.open_now()
        return checkpoint

    def open_now(self) -> None:
        """Lock the file, read what earlier runs left, and start this run's lines
        (idempotent).

        Raises:
            CheckpointError: not a regular file, held by another run, or it cannot
                be read or written.
        """
        if self._fd is not None:
            return
        self._open_locked()
        try:
            self._refuse_foreign()
            ends_torn = self._load()
            run = CheckpointLine(
                "",
                RUN,
                -1,
                _now_ms(),
                pid=os.getpid(),
                host=socket.gethostname(),
                keys=CONTENT_KEYS if self.content_keys else "position",
            )
            # After a torn line, start on a line of our own (never glued to it).
            head = b"\n" if ends_torn else b""
            self._write(head + _ENCODE(run) + b"\n")
        except BaseException:
            self.close_now()
            raise

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
        self._size = os.fstat(fd).st_size
        try:
            import fcntl  # POSIX; elsewhere no single-writer lock
        except ImportError:  # pragma: no cover - not on POSIX
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._holder()
            self.close_now()
            raise CheckpointError(
                f"checkpoint {self.path!r} is in use by {holder} (another run of "
                "this batch?): wait for it to finish, or use another file"
            ) from None

    def _refuse_foreign(self) -> None:
        """A non-empty file whose first line is not a checkpoint line (an input
        file, a CSV, a log) is never written into: appending our lines would
        damage it, and a rerun could not read it either (issue 20).

        Raises:
            CheckpointError: the file holds something else; nothing was written.
        """
        if self._size == 0:
            return
        first = _first_line(self.path)
        if _is_checkpoint_line(first):
            return
        shown = first[:60].decode("utf-8", "replace").rstrip()
        raise CheckpointError(
            f"checkpoint {self.path!r} is not a checkpoint file (its first line is "
            f"{shown!r}); nothing was sent: is it the input file? Give the "
            "checkpoint a path of its own (a new or empty file is fine)"
        )

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
        lines = _Lines()
        last = b""
        with handle:
            for raw in handle:
                last = raw
                if raw.endswith(b"\n"):  # only the last line can lack one
                    lines.read(raw)
        pending = lines.pending
        self.offset = lines.offset
        self.content_keys = lines.saw_content_run or not lines.saw_items
        torn = bool(last) and not last.endswith(b"\n")
        if torn:
            self._torn(last, lines.run, pending)
        self.delivered = KeySet(lines.delivered)
        self._earlier = bool(pending) or bool(self.delivered)
        # Offsets are known now: a run's clock line may come after its items.
        self.uncertain = {
            h: Uncertain(mark.at, mark.run.offset)
            for h, mark in pending.items()
            if h not in self.delivered
        }
        return torn

    def _torn(self, fragment: bytes, run: _Run, pending: dict[int, _Pending]) -> None:
        """A line cut short (a power cut, a failed cut-back): its item may have been
        sent (or was delivered and not recorded), so it is in flight, never assumed
        either way. Cut inside its key, it names no item and needs none (see the
        module docstring): the items it can belong to are in `pending` already."""
        self.torn = fragment[:200].decode("utf-8", "replace")
        found = _TORN_KEY.match(fragment)
        try:
            key = None if found is None else msgspec.json.decode(found[1], type=str)
        except msgspec.DecodeError:  # an escape cut in half
            key = None
        if key is not None:  # its own complete `sending` line, if any, says when
            pending.setdefault(key_hash(key), _Pending(_now_ms(), run))

    # -- writing -----------------------------------------------------------------------

    def _write(self, data: bytes | bytearray) -> None:
        """Append `data` now, with the deferred lines before it, in one write
        (finishing short writes). When it fails (a full disk), the file is cut
        back to where it was, so no partial line of ours is left for a rerun to
        puzzle over, the deferred lines wait again (for `close`), and it raises
        CheckpointError."""
        fd = self._fd
        if fd is None:
            raise CheckpointError(f"checkpoint {self.path!r} is closed")
        pending = self._pending
        pending += data  # one path: the deferred lines and `data` in one write
        done = 0
        try:
            done = os.write(fd, pending)
            while done < len(pending):  # a short write: finish it
                done += os.write(fd, pending[done:])
        except OSError as exc:
            self._cut_back(fd, done, len(data))
            raise CheckpointError(
                f"cannot write checkpoint {self.path!r}: {exc.strerror}"
            ) from None
        del pending[:]

    def _cut_back(self, fd: int, written: int, added: int) -> None:
        """After a failed write: the `written` bytes it left go (a write that
        fails writes nothing more, so the file ends where it did before), the
        deferred lines wait again, the `added` ones do not."""
        with contextlib.suppress(OSError):
            os.ftruncate(fd, os.fstat(fd).st_size - written)
        del self._pending[len(self._pending) - added :]

    def flush(self) -> None:
        """Write what is deferred."""
        if self._pending:
            self._write(b"")

    def close_now(self) -> None:
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


class _Lines:
    """What the whole lines of a file say, read one by one: the last word on each
    item, the runs (and their clock offsets), and how keys were derived."""

    __slots__ = (
        "decode",
        "delivered",
        "offset",
        "pending",
        "run",
        "saw_content_run",
        "saw_items",
    )

    def __init__(self) -> None:
        self.decode = msgspec.json.Decoder(CheckpointLine).decode
        self.delivered = array("Q")
        self.pending: dict[int, _Pending] = {}
        self.run = _Run()
        self.offset: int | None = None
        self.saw_items = self.saw_content_run = False

    def read(self, raw: bytes) -> None:
        try:
            line = self.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return  # a line glued by an older version: not ours to read
        if line.status == RUN:
            self.run = _Run()
            self.saw_content_run |= line.keys == CONTENT_KEYS
        elif line.status == CLOCK:
            self.run.offset = self.offset = line.offset
        else:
            self.saw_items = True
            self.note(line)

    def note(self, line: CheckpointLine) -> None:
        h = key_hash(line.key)
        if line.status == "delivered":
            self.delivered.append(h)
            self.pending.pop(h, None)
        elif line.status in (SENDING, "ambiguous"):
            # The first mark since the item was last settled says when it may first
            # have been sent: its `ambiguous` outcome (written after its attempts)
            # or a later run's mark (of a send it did not make) must not move the
            # rerun's reconcile window past that send.
            if h not in self.pending:
                self.pending[h] = _Pending(line.at, self.run)
        else:  # failed: definitely not delivered, send again
            self.pending.pop(h, None)


class _Pending:
    """An earlier run's mark before its run's clock offset is known."""

    __slots__ = ("at", "run")

    def __init__(self, at: int, run: _Run) -> None:
        self.at = at
        self.run = run


_FIRST_LINE_MAX: Final = 64 * 1024
_STATUSES: Final = frozenset({RUN, CLOCK, SENDING, "delivered", "failed", "ambiguous"})


def _first_line(path: str) -> bytes:
    """The file's first line (at most 64 KiB of it, the newline kept)."""
    try:
        with open(path, "rb") as handle:
            return handle.readline(_FIRST_LINE_MAX)
    except OSError as exc:
        raise CheckpointError(
            f"cannot read checkpoint {path!r}: {exc.strerror}"
        ) from None


def _is_checkpoint_line(line: bytes) -> bool:
    """A line this module wrote: a whole `CheckpointLine` with a known status,
    or a torn one (a power cut during the very first write) that starts as ours."""
    if not line.endswith(b"\n"):
        return line.startswith(b'{"key":')
    try:
        decoded = msgspec.json.decode(line, type=CheckpointLine)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return False
    return decoded.status in _STATUSES


def _now_ms() -> int:
    return int(time.time() * 1000)
