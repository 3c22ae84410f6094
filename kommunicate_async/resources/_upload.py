"""The attachment upload's reply: a bare fileMeta, kept whole (docs/wire.md#files).

All three current SDKs upload to `{chat}/rest/ws/upload/image?aclsPrivate=true` and
read the reply as a bare fileMeta (Android FileClientService.java, Web SDK
mck-sidebox-1.0.js, iOS ALHTTPManager.m). The meta goes into the attachment message
exactly as received: Android fetches private thumbnails by `thumbnailBlobKey`, so
no field may be dropped. A refusal is the bare `{"errorCode": "MALICIOUS_CONTENT"}`.
"""

from __future__ import annotations

from typing import Any, Final, cast

import msgspec

from .._codec import decoder_for
from .._errors import ResponseValidationError, api_error
from .._pipeline.reply import error_from_body, excerpt

__all__ = ["file_meta_from_reply", "plain_url"]

_ANY: Final = decoder_for(Any)


def file_meta_from_reply(body: bytes) -> dict[str, Any]:
    """The fileMeta of an upload reply, whole; a refusal raises a typed error.

    Raises:
        UploadRefusedError: `{"errorCode": "MALICIOUS_CONTENT"}` (or another code).
        APIError: an error envelope.
        ResponseValidationError: no fileMeta with a `blobKey` in the reply.
    """
    try:
        value: object = _ANY.decode(body)
    except msgspec.DecodeError:
        raise ResponseValidationError(
            f"the upload reply is not JSON: {excerpt(body)!r}", status=200
        ) from None
    if isinstance(value, dict):
        fields = cast("dict[str, Any]", value)
        if isinstance(fields.get("status"), str):
            if fields["status"].lower() == "error":
                raise error_from_body(200, body)
            fields = _dict(fields.get("response"))
        code = fields.get("errorCode")
        if isinstance(code, str) and "blobKey" not in fields:
            raise api_error(200, code, f"the upload was refused ({code})")
        # Legacy Applozic replies wrap it: {"fileMeta": {...}} (docs/wire.md#files)
        inner = fields.get("fileMeta")
        meta = _dict(inner) if inner is not None else fields
        if isinstance(meta.get("blobKey"), str) and meta["blobKey"]:
            return meta
    raise ResponseValidationError(
        f"the upload returned no fileMeta: {excerpt(body)!r}", status=200
    )


def _dict(value: object) -> dict[str, Any]:
    return cast("dict[str, Any]", value) if isinstance(value, dict) else {}


def plain_url(body: bytes, what: str) -> str:
    """A plain-text URL reply (`file/url`, `upload/file`), checked to be one."""
    text = body.decode("utf-8", "replace").strip()
    if text.startswith('"') and text.endswith('"'):  # tolerate a JSON string
        text = text[1:-1]
    if not text.startswith(("https://", "http://")) or any(c.isspace() for c in text):
        raise ResponseValidationError(
            f"{what} returned no URL: {excerpt(body)!r}", status=200
        )
    return text
