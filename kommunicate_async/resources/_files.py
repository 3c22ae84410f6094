"""Preparing a file for upload: name, type, size and emptiness checked first.

Everything that can be known before the upload is checked before it: an empty
file, an unknown content type, a size over the cap. A stream's size is only known
as it is read, so a stream over the cap is cut off mid-upload with the same error.
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Final, cast

from .._errors import InvalidRequestError
from .._pipeline.transport import Upload
from .._validate import check_id

if TYPE_CHECKING:
    from typing import BinaryIO

__all__ = ["DEFAULT_MAX_FILE_SIZE", "FileSource", "prepare_upload"]

DEFAULT_MAX_FILE_SIZE: Final = 30 * 1024 * 1024
"""30 MiB: the attachment limit of Kommunicate's own Android UI."""

FileSource = bytes | str | os.PathLike[str] | AsyncIterable[bytes]


def _content_type(name: str, given: str | None) -> str:
    if given is not None:
        value = check_id(given, "content_type")
        if "/" not in value:
            raise InvalidRequestError(
                f"content_type must be a MIME type, not {value!r}"
            )
        return value
    guessed, _ = mimetypes.guess_type(name, strict=False)
    if guessed is None:
        raise InvalidRequestError(
            f"cannot tell the content type of {name!r}; pass content_type="
        )
    return guessed


async def _capped(
    chunks: AsyncIterable[bytes], first: bytes, cap: int
) -> AsyncIterator[bytes]:
    total = len(first)
    yield first
    async for chunk in chunks:
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise InvalidRequestError(
                f"a file stream yields bytes, not {type(chunk).__name__}"
            )
        total += len(chunk)
        if total > cap:
            raise InvalidRequestError(f"the file is larger than max_size={cap} bytes")
        if chunk:
            yield bytes(chunk)


async def _first_chunk(chunks: AsyncIterator[bytes]) -> bytes:
    async for chunk in chunks:
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise InvalidRequestError(
                f"a file stream yields bytes, not {type(chunk).__name__}"
            )
        if chunk:
            return bytes(chunk)
    raise InvalidRequestError("the file is empty")


class PreparedUpload:
    """An `Upload` and whether it can be sent again (a stream cannot)."""

    __slots__ = ("_opened", "name", "replayable", "upload")

    def __init__(
        self, upload: Upload, *, replayable: bool, opened: BinaryIO | None = None
    ) -> None:
        self.upload = upload
        self.name = upload.name
        self.replayable = replayable
        self._opened = opened

    def close(self) -> None:
        """Close the file this upload opened, if any."""
        if self._opened is not None:
            self._opened.close()


async def prepare_upload(
    source: object, *, name: str | None, content_type: str | None, max_size: int
) -> PreparedUpload:
    """Check `source` and wrap it for the transport; bad input raises first."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(cast("bytes", source))
        if not data:
            raise InvalidRequestError("the file is empty")
        if len(data) > max_size:
            raise InvalidRequestError(
                f"the file is larger than max_size={max_size} bytes"
            )
        file_name = check_id(name, "name") if name is not None else _need_name()
        return PreparedUpload(
            Upload(file_name, _content_type(file_name, content_type), data),
            replayable=True,
        )
    if isinstance(source, str | os.PathLike):
        path = Path(cast("str | os.PathLike[str]", source))
        return _prepare_path(path, name, content_type, max_size)
    if isinstance(source, AsyncIterable):
        file_name = check_id(name, "name") if name is not None else _need_name()
        kind = _content_type(file_name, content_type)
        chunks = aiter(cast("AsyncIterable[bytes]", source))
        first = await _first_chunk(chunks)
        if len(first) > max_size:
            raise InvalidRequestError(
                f"the file is larger than max_size={max_size} bytes"
            )
        return PreparedUpload(
            Upload(file_name, kind, _capped(chunks, first, max_size)), replayable=False
        )
    raise InvalidRequestError(
        f"file must be bytes, a path or an async iterable of bytes, not "
        f"{type(source).__name__}"
    )


def _prepare_path(
    path: Path, name: str | None, content_type: str | None, max_size: int
) -> PreparedUpload:
    # One stat and an open: quick, so not worth a thread.
    try:
        info = path.stat()
    except OSError as exc:
        raise InvalidRequestError(
            f"cannot read {path.name!r}: {exc.strerror}"
        ) from None
    if not path.is_file():
        raise InvalidRequestError(f"{path.name!r} is not a regular file")
    if info.st_size == 0:
        raise InvalidRequestError(f"{path.name!r} is empty")
    if info.st_size > max_size:
        raise InvalidRequestError(
            f"{path.name!r} is {info.st_size} bytes, over max_size={max_size}"
        )
    file_name = check_id(name, "name") if name is not None else path.name
    kind = _content_type(file_name, content_type)
    opened = _open(path)
    return PreparedUpload(
        Upload(file_name, kind, opened), replayable=False, opened=opened
    )


def _need_name() -> str:
    raise InvalidRequestError("name= is required when the file is bytes or a stream")


def _open(path: Path) -> BinaryIO:
    # Opening is quick; aiohttp reads the file in its executor while it streams.
    try:
        return path.open("rb")
    except OSError as exc:
        raise InvalidRequestError(
            f"cannot read {path.name!r}: {exc.strerror}"
        ) from None
