"""What `send-batch` reads: JSONL or CSV, every row checked before anything is sent.

JSONL: one `{"conversation", "text", "sender"?, "metadata"?, "dedupe_key"?}` object
per line. CSV (a `.csv` file, or `--format csv`): a header row naming the columns
`conversation` and `text` (required) and `sender`, `dedupe_key`, `metadata`
(optional; `metadata` holds a JSON object); a `conversation` of digits is a
groupId, anything else a clientGroupId (as in the other commands). Empty optional
cells mean "not given". A bad row is an `InvalidRequestError` naming the file and
the 1-based line it starts on, before anything is sent.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
from array import array
from typing import IO, TYPE_CHECKING, Final

import msgspec

from .._errors import InvalidRequestError
from ..models.batch import OutgoingMessage

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["FORMATS", "BatchInput", "input_format", "refuse_same_file"]

FORMATS: Final = ("jsonl", "csv")
_COLUMNS: Final = frozenset(
    {"conversation", "text", "sender", "dedupe_key", "metadata"}
)
_REQUIRED: Final = ("conversation", "text")


def input_format(path: str, given: str | None) -> str:
    """`--format` when given, else by the file's extension (JSONL by default)."""
    if given is not None:
        return given
    return "csv" if path.lower().endswith(".csv") else "jsonl"


def refuse_same_file(input_path: str, checkpoint: str | None) -> None:
    """The checkpoint must not be the input: its lines would be appended to the
    file being read (issue 20).

    Raises:
        InvalidRequestError: both name the same file.
    """
    if checkpoint is None or input_path == "-":
        return
    try:
        same = os.path.samefile(input_path, checkpoint)
    except OSError:  # one of them does not exist (yet): compare the names
        same = os.path.realpath(input_path) == os.path.realpath(checkpoint)
    if same:
        raise InvalidRequestError(
            f"--checkpoint {checkpoint} is the input file itself: nothing was sent "
            "(the checkpoint's lines would be written into the input); give the "
            "checkpoint its own file, e.g. --checkpoint campaign.checkpoint.jsonl"
        )


class BatchInput:
    """One input file in one format: `check` every row, then `items` lazily."""

    def __init__(self, handle: IO[bytes], name: str, fmt: str) -> None:
        self.handle = handle
        self.name = name
        self.csv = fmt == "csv"

    def check(self) -> array[int]:
        """Check every row; the line number (1-based) each item starts on.

        Raises:
            InvalidRequestError: `name:LINE: why` for the first bad row.
        """
        lines = array("L")
        for number, _ in self._rows():
            lines.append(number)
        self.handle.seek(0)
        return lines

    def items(self) -> Iterator[OutgoingMessage]:
        """The items, one row at a time (the file was checked first)."""
        for _, item in self._rows():
            yield item

    def _rows(self) -> Iterator[tuple[int, OutgoingMessage]]:
        return self._csv_rows() if self.csv else self._jsonl_rows()

    def _jsonl_rows(self) -> Iterator[tuple[int, OutgoingMessage]]:
        decoder = msgspec.json.Decoder(OutgoingMessage)
        for number, line in enumerate(self.handle, start=1):
            if not line.strip():
                continue
            try:
                yield number, decoder.decode(line)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                hint = _csv_hint(line) if number == 1 else ""
                raise InvalidRequestError(
                    f"{self.name}:{number}: {exc}{hint}"
                ) from None

    def _csv_rows(self) -> Iterator[tuple[int, OutgoingMessage]]:
        text = io.TextIOWrapper(self.handle, encoding="utf-8-sig", newline="")
        ended = 0  # the line the last row ended on: the next starts after it
        try:
            reader = csv.reader(text, strict=True)
            header = self._header(reader)
            ended = reader.line_num
            for row in reader:
                number, ended = ended + 1, reader.line_num
                if not any(cell.strip() for cell in row):
                    continue
                yield number, self._csv_item(header, row, number)
        except UnicodeDecodeError as exc:
            raise InvalidRequestError(f"{self.name}: not UTF-8 text: {exc}") from None
        except csv.Error as exc:
            raise InvalidRequestError(f"{self.name}:{ended + 1}: {exc}") from None
        finally:
            with contextlib.suppress(ValueError):  # the handle closed already
                text.detach()  # the caller's handle stays open (it is read twice)

    def _header(self, reader: Iterator[list[str]]) -> list[str]:
        empty: list[str] = []
        header = [cell.strip() for cell in next(reader, empty)]
        unknown = [c for c in header if c not in _COLUMNS]
        missing = [c for c in _REQUIRED if c not in header]
        if unknown or missing or len(set(header)) != len(header):
            raise InvalidRequestError(
                f"{self.name}:1: the header row must name the columns conversation "
                f"and text (and optionally sender, dedupe_key, metadata), once each; "
                f"found {header}"
            )
        return header

    def _csv_item(
        self, header: list[str], row: list[str], number: int
    ) -> OutgoingMessage:
        if len(row) != len(header):
            raise InvalidRequestError(
                f"{self.name}:{number}: {len(row)} fields, the header has {len(header)}"
            )
        cells = dict(zip(header, row, strict=True))
        where = f"{self.name}:{number}"
        conversation = cells["conversation"].strip()
        if not conversation:
            raise InvalidRequestError(f"{where}: conversation is empty")
        if not cells["text"]:
            raise InvalidRequestError(f"{where}: text is empty")
        return OutgoingMessage(
            conversation=_ref(conversation),
            text=cells["text"],
            sender=cells.get("sender") or None,
            metadata=_metadata(cells.get("metadata"), where),
            dedupe_key=cells.get("dedupe_key") or None,
        )


def _ref(text: str) -> int | str:
    """Digits are a groupId (as in the other commands); anything else a
    clientGroupId."""
    return int(text) if text.isdigit() and int(text) > 0 else text


def _metadata(cell: str | None, where: str) -> dict[str, object] | None:
    if not cell or not cell.strip():
        return None
    try:
        found = msgspec.json.decode(cell.encode(), type=dict[str, object])
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise InvalidRequestError(
            f"{where}: metadata must be a JSON object ({exc})"
        ) from None
    return found


def _csv_hint(line: bytes) -> str:
    """Said when a JSONL file's first line looks like a CSV header."""
    if b"," in line and not line.lstrip().startswith(b"{"):
        return " (is it a CSV file? name it .csv or pass --format csv)"
    return ""
