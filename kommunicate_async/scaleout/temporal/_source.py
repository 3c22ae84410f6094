"""The campaign's source: a JSONL file split into chunks by byte offsets, and
the dedupe key of an item that brings none."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Final
from urllib.parse import unquote, urlparse

import msgspec

from ..._errors import InvalidRequestError
from ...models.batch import OutgoingMessage
from ._types import ChunkRange

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["chunk_key", "plan_jsonl", "read_jsonl_chunk", "source_path"]

_SORTED: Final = msgspec.json.Encoder(order="sorted")


def source_path(source: str) -> str:
    """A `file:` URI or a plain path, as a path."""
    if source.startswith("file:"):
        return unquote(urlparse(source).path)
    if "://" in source:
        raise InvalidRequestError(
            f"unsupported campaign source {source!r}: give a path or a file: URI "
            "(or a `read_chunk` of your own to the worker)"
        )
    return source


def plan_jsonl(source: str, *, chunk_size: int = 1000) -> list[ChunkRange]:
    """The manifest of a JSONL file: chunks of `chunk_size` items each.

    Reads the file once, here (the starter's side), checking every line is an
    `OutgoingMessage`, so bad input is refused before anything is sent; the
    workers then read only their chunk's bytes. Blank lines are no items.

    Raises:
        InvalidRequestError: the file cannot be read, or a line is not an item.
    """
    size: object = chunk_size  # checked at run time: callers may be untyped
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise InvalidRequestError("chunk_size must be an int >= 1")
    path = source_path(source)
    decoder = msgspec.json.Decoder(OutgoingMessage)
    chunks: list[ChunkRange] = []
    start = offset = count = 0
    try:
        with open(path, "rb") as lines:
            for number, line in enumerate(lines, start=1):
                if line.strip():
                    try:
                        decoder.decode(line)
                    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                        raise InvalidRequestError(f"{path}:{number}: {exc}") from None
                    if count == chunk_size:
                        chunks.append(ChunkRange(len(chunks), start, offset, count))
                        start, count = offset, 0
                    count += 1
                offset += len(line)
    except OSError as exc:
        raise InvalidRequestError(f"cannot read {path}: {exc.strerror}") from None
    if count:
        chunks.append(ChunkRange(len(chunks), start, offset, count))
    return chunks


def read_jsonl_chunk(source: str, chunk: ChunkRange) -> Iterator[OutgoingMessage]:
    """The chunk's items: one seek to its first byte, then only its own lines."""
    decoder = msgspec.json.Decoder(OutgoingMessage)
    with open(source_path(source), "rb") as lines:
        lines.seek(chunk.start)
        position = chunk.start
        while position < chunk.end:
            line = lines.readline()
            if not line:
                return
            position += len(line)
            if line.strip():
                yield decoder.decode(line)


def chunk_key(item: OutgoingMessage, chunk: int, occurrence: int) -> str:
    """The dedupe key of an item without one, derived from its content.

    blake2b of the conversation, the sender, the text and the metadata (keys
    sorted), as `send_many` derives it, plus the chunk: a worker reads only
    its chunk, so it can number the repeats of one content only within it
    ("-n" for the n-th). The chunk keeps two equal messages in two chunks two
    keys (reconcile would otherwise take one for the other). The manifest is
    fixed for the campaign's life, so the key is stable across retries.
    """
    try:
        meta = _SORTED.encode(item.metadata) if item.metadata else b""
    except (TypeError, ValueError, OverflowError, RecursionError):
        meta = repr(item.metadata).encode("utf-8", "backslashreplace")
    text = f"{item.conversation}\x1f{item.sender or ''}\x1f{item.text}\x1f"
    material = text.encode("utf-8", "surrogatepass") + meta
    digest = hashlib.blake2b(material, digest_size=12).hexdigest()
    key = f"{digest}-c{chunk}"
    return key if occurrence == 1 else f"{key}-{occurrence}"
