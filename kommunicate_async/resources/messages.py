"""`km.messages`: send one message, read a conversation's history."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any, Final

import msgspec

from .._batch.batch import Batch, BatchOptions, BatchSettings
from .._batch.iterator import BatchIterator
from .._batch.settle import SettleReport, settle_checkpoint
from .._codec import encode
from .._errors import BatchStoppedError, InvalidRequestError
from .._message_wire import (
    SEND,
    MessageWire,
    read_history,
    send_body,
)
from .._metadata import stringify_metadata
from .._pipeline.routing import Host, Route
from .._validate import check_id, check_int, check_text
from ..models._base import UNSET
from ..models.batch import BatchReport, OutgoingMessage
from ..models.feedback import ANSWER_SOURCE, CONTEXT_QUESTION
from ..models.message import (
    AttachmentBody,
    Message,
    SentMessage,
)
from ..rich._message import HTML_CONTENT_TYPE, RichMessage, merge_metadata
from ._base import Resource, check_ref
from ._files import DEFAULT_MAX_FILE_SIZE, FileSource, PreparedUpload, prepare_upload
from ._lifecycle import (
    delete_message,
    message_info,
    messages_by_key,
    update_message_metadata,
)
from ._receipts import ReceiptSampler, check_receipts, receipts_share
from ._upload import file_meta_from_reply, plain_url

if TYPE_CHECKING:
    import os
    from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping

    from .._batch.echoes import EchoStore
    from .._batch.redis_echoes import RedisEchoStore
    from .._compat import Unpack
    from ..models.conversation import ConversationRef
    from ..models.inbox import Receipt

__all__ = ["Messages", "answer_metadata", "send_body"]

# docs/wire.md#files: the upload goes to the chat host (a user's JWT, else Api-Key),
# the attachment message to the Platform host's message/send. `upload/file` is the
# profile-picture upload (it answers a text URL): attachments use `upload/image`.
UPLOAD: Final = Route("POST", "/rest/ws/upload/image", Host.CHAT)
UPLOAD_ONCE: Final = Route("POST", "/rest/ws/upload/image", Host.CHAT, idempotent=False)
UPLOAD_PARAMS: Final = {"aclsPrivate": "true"}
FILE_URL: Final = Route("GET", "/rest/ws/file/url", Host.CHAT)
SEND_ATTACHMENT: Final = Route("POST", "/rest/ws/message/send", idempotent=False)
ATTACHMENT_TYPE: Final = 1
ATTACHMENT_CONTENT_TYPE: Final = 1
ATTACHMENT_SOURCE: Final = 1
_SENT: Final = 5


def message_parts(
    message: str | RichMessage, metadata: Mapping[str, object] | None
) -> tuple[str, Mapping[str, object] | None, int | None]:
    """(text, metadata, contentType) of a text or rich message plus `metadata`."""
    if isinstance(message, RichMessage):
        merged = merge_metadata(message, metadata)
        return (
            message.text,
            merged or None,
            HTML_CONTENT_TYPE if message.html else None,
        )
    return message, metadata, None


def answer_metadata(
    metadata: Mapping[str, object] | None,
    answer_source: str | None,
    question: str | None,
) -> Mapping[str, object] | None:
    """`metadata` plus `KM_ANSWER_SOURCE` and `KM_CONTEXT_QUESTION`."""
    if answer_source is None:
        if question is not None:
            raise InvalidRequestError("question needs answer_source")
        return metadata
    extra = {ANSWER_SOURCE: check_id(answer_source, "answer_source")}
    if question is not None:
        extra[CONTEXT_QUESTION] = check_text(question, "question")
    return {**(metadata or {}), **extra}


class Messages(Resource):
    """Messages (docs/wire.md#send, docs/wire.md#messages)."""

    __slots__ = ()

    async def send(
        self,
        ref: ConversationRef,
        message: str | RichMessage,
        *,
        sender: str | None = None,
        metadata: Mapping[str, object] | None = None,
        answer_source: str | None = None,
        question: str | None = None,
    ) -> SentMessage:
        """Send a message (`POST message/v2/send`) and return its key.

        Args:
            ref: the conversation (groupId, clientGroupId or Conversation).
            message: the text (not empty), or a `RichMessage` from
                `kommunicate_async.rich` (its `payload` is stringified for you).
            sender: the sender's userId (`fromUserName`); the session's
                `on_behalf_of` by default.
            metadata: message metadata; nested values are JSON-stringified for you.
                With a rich message it is merged into the template's own (a key
                that contradicts the template raises `InvalidRequestError`).
            answer_source: mark a bot's message as an AI answer
                (`KM_ANSWER_SOURCE`, e.g. "intent" or your knowledge base's name):
                the widget shows its helpful / not-helpful buttons on it when the
                bot has answer feedback on (docs/wire.md#feedback).
            question: the question answered (`KM_CONTEXT_QUESTION`), with
                `answer_source`.

        A send is never retried blindly: when it fails after the request may have
        reached the server (timeout, disconnect, 5xx), the error has
        `ambiguous=True` and the message may or may not be in the conversation.
        """
        if answer_source is not None or question is not None:
            metadata = answer_metadata(metadata, answer_source, question)
        if type(message) is str:  # plain text: nothing to merge (no call)
            text, meta, content_type = message, metadata, None
        else:
            text, meta, content_type = message_parts(message, metadata)
        body = send_body(
            ref,
            text,
            self._ctx.on_behalf_of if sender is None else sender,
            meta,
            content_type=content_type,
        )
        return await self._ctx.client.call(SEND, SentMessage, body=body)

    async def send_file(
        self,
        ref: ConversationRef,
        file: FileSource,
        *,
        name: str | None = None,
        content_type: str | None = None,
        caption: str | None = None,
        sender: str | None = None,
        metadata: Mapping[str, object] | None = None,
        max_size: int = DEFAULT_MAX_FILE_SIZE,
        key: str | None = None,
    ) -> SentMessage:
        """Upload a file and send it as an attachment message.

        Streams a multipart upload (`POST upload/image?aclsPrivate=true`), then
        sends a message carrying the returned file meta whole (`POST message/send`).

        Args:
            ref: the conversation.
            file: bytes, a path, or an async iterable of byte chunks.
            name: the file name (required for bytes and streams; a path's own
                name otherwise).
            content_type: the MIME type; guessed from the name when None, and
                refused when it cannot be guessed.
            caption: text shown with the file.
            sender: who sends it (`Of-User-Id`); the session's `on_behalf_of`.
            metadata: message metadata (stringified for you).
            max_size: refuse files larger than this many bytes (30 MiB).
            key: the message's client key; a new UUID when None.

        Raises:
            InvalidRequestError: an empty file, an unknown type, a file over
                `max_size`, a bad reference: before anything is uploaded
                (a stream found too large while it is read is cut off).
            UploadRefusedError: the server refused the file ("MALICIOUS_CONTENT").
            ConversationClosedError: the conversation is closed (nothing sent).

        As with `send`, when the message send may have reached the server without a
        clear answer, the error has `ambiguous=True`.
        """
        target = check_ref(ref)
        acting = self._ctx.acting(sender)
        check_int(max_size, "max_size", minimum=1)
        client_key = str(uuid.uuid4()) if key is None else check_id(key, "key")
        meta = stringify_metadata(metadata) if metadata is not None else UNSET
        if caption is not None:
            check_text(caption, "caption")
        prepared = await prepare_upload(
            file, name=name, content_type=content_type, max_size=max_size
        )
        try:
            file_meta = await self._upload(prepared, acting)
        finally:
            prepared.close()
        body = encode(
            AttachmentBody(
                group_id=target if isinstance(target, int) else UNSET,
                client_group_id=UNSET if isinstance(target, int) else target,
                message=caption or "",
                key=client_key,
                type=ATTACHMENT_TYPE,
                content_type=ATTACHMENT_CONTENT_TYPE,
                file_meta=file_meta,
                source=ATTACHMENT_SOURCE,
                metadata=meta,
            )
        )
        return await self._ctx.client.call(
            SEND_ATTACHMENT, SentMessage, body=body, acting_as=acting
        )

    async def info(self, key: str, *, on_behalf_of: str | None = None) -> list[Receipt]:
        """Who received and read a message (`GET message/info?key=`).

        One `Receipt` per member that got it; a member not listed has neither.
        """
        return await message_info(self._ctx, key, self._ctx.acting(on_behalf_of))

    async def get_many(
        self, keys: str | Iterable[str], *, on_behalf_of: str | None = None
    ) -> list[Message]:
        """Messages by key (`GET message/detail?keys=…&keys=…`)."""
        return await messages_by_key(self._ctx, keys, self._ctx.acting(on_behalf_of))

    async def update_metadata(
        self,
        key: str,
        metadata: Mapping[str, object],
        *,
        on_behalf_of: str | None = None,
    ) -> None:
        """Set a message's metadata (`POST message/update/metadata`); the widget
        marks a superseded message `{"obsolete": True}` this way. Whether the
        server merges or replaces is UNCERTAIN: send every key to keep."""
        await update_message_metadata(
            self._ctx, key, metadata, self._ctx.acting(on_behalf_of)
        )

    async def delete(
        self, key: str, *, for_all: bool = False, on_behalf_of: str | None = None
    ) -> None:
        """Delete a message for the acting user, or for every member (`for_all`)
        (`GET message/delete?key=`, `deleteForAll=true`)."""
        await delete_message(
            self._ctx, key, for_all=for_all, acting=self._ctx.acting(on_behalf_of)
        )

    async def _upload(self, prepared: PreparedUpload, acting: str) -> dict[str, Any]:
        route = UPLOAD if prepared.replayable else UPLOAD_ONCE
        reply: bytes | None = await self._ctx.client.call(
            route,
            bytes,
            params=UPLOAD_PARAMS,
            body=prepared.upload,
            acting_as=acting,
            max_retries=None if prepared.replayable else 0,
        )
        return file_meta_from_reply(reply or b"")

    async def file_url(self, blob_key: str, *, user: str | None = None) -> str:
        """The signed download URL of a private file (`GET file/url?key=`).

        Attachments are uploaded private (`aclsPrivate=true`); their `blobKey` (or
        `thumbnailBlobKey`) gives a short-lived signed URL, answered as plain text
        (Android S3URLService.java). `user`: whose credentials (`Of-User-Id`, or a
        logged-in user's token); the session's `on_behalf_of` by default.
        """
        check_id(blob_key, "blob_key")
        reply: bytes | None = await self._ctx.client.call(
            FILE_URL, bytes, params={"key": blob_key}, acting_as=self._ctx.acting(user)
        )
        return plain_url(reply or b"", "file/url")

    async def list(
        self,
        ref: ConversationRef,
        *,
        page_size: int = 50,
        on_behalf_of: str | None = None,
        skip_read: bool = False,
    ) -> AsyncIterator[Message]:
        """Every message of a conversation, newest first (`GET message/list`).

        Pages with the `endTime` cursor, whether the server treats it as inclusive
        or not (UNCERTAIN): no gaps, no repeats (see `_paging.py`). If more than a
        page of messages share one millisecond, `startIndex` steps through them.
        A server that ignores the cursor ends the listing after a few pages with
        nothing new (logged as a warning, see `_paging.py`), never an endless
        loop. Each page has the session's total timeout.

        Args:
            skip_read: send `skipRead=true`, so that reading as an end user
                (after `users.login`) does not mark the thread read, as the
                Android SDK does.
        """
        check_int(page_size, "page_size", minimum=1)
        if not isinstance(skip_read, bool):
            raise InvalidRequestError("skip_read must be a bool")
        async for message in self.history(
            ref, page_size=page_size, on_behalf_of=on_behalf_of, skip_read=skip_read
        ):
            yield message

    async def history(
        self,
        ref: ConversationRef,
        *,
        page_size: int = 50,
        on_behalf_of: str | None = None,
        skip_read: bool = False,
        max_retries: int | None = None,
        first_attempt: bool = True,
    ) -> AsyncIterator[Message]:
        """`list`, with the retries of each page call set. The batch's reconcile
        reads with `max_retries=0, first_attempt=False`: each page is paid for by
        the session's retry budget and adds nothing to it."""
        acting = self._ctx.acting(on_behalf_of)
        group_id = await self._ctx.group_id(ref, on_behalf_of=on_behalf_of)
        async for message in read_history(
            self._ctx.client,
            group_id,
            acting=acting,
            page_size=page_size,
            skip_read=skip_read,
            max_retries=max_retries,
            first_attempt=first_attempt,
        ):
            if message.type == _SENT:  # its author is the viewer (Message.sender)
                msgspec.structs.force_setattr(message, "viewer", acting)
            yield message

    # -- many messages ----------------------------------------------------------------

    def iter_send(
        self,
        items: Iterable[OutgoingMessage] | AsyncIterable[OutgoingMessage],
        **options: Unpack[BatchOptions],
    ) -> BatchIterator:
        """Send many messages; yields one `ItemResult` per item as each finishes.

        `items` is read lazily, one item per free worker (a million-item generator is
        never held in memory). Results come in completion order; `result.index` is
        the item's position in the input. The options (`concurrency`, `rate_limit`,
        `checkpoint`, `on_progress`, `reconcile`, `shard`, `max_attempts`) are
        described in `BatchOptions`.

        Use it in `async with` (or call `aclose()`) to stop early; the iterator is
        also safe to abandon mid-way.
        """
        settings = BatchSettings.from_options(
            options, max_attempts=self._ctx.client.config.max_retries + 1
        )
        ctx = self._ctx
        wire = MessageWire(ctx.client, ctx.on_behalf_of, ctx.group_id)
        return BatchIterator(Batch(wire, items, settings))

    async def settle(
        self,
        checkpoint: str | os.PathLike[str],
        *,
        lookback: float = 300.0,
        echoes: EchoStore | RedisEchoStore | None = None,
    ) -> SettleReport:
        """Settle a checkpoint's ambiguous items without sending: each is looked for
        (in `echoes`, else in its conversation) and marked delivered or failed in
        the file, so a rerun skips or sends it (`_batch/settle.py`).

        Raises:
            CheckpointError: no such checkpoint, not a checkpoint, or in use.
        """
        ctx = self._ctx
        wire = MessageWire(ctx.client, ctx.on_behalf_of, ctx.group_id)
        return await settle_checkpoint(
            wire, checkpoint, lookback=lookback, echoes=echoes
        )

    async def send_many(
        self,
        items: Iterable[OutgoingMessage] | AsyncIterable[OutgoingMessage],
        *,
        receipts: bool | float = False,
        **options: Unpack[BatchOptions],
    ) -> BatchReport:
        """`iter_send` to the end, counted: a `BatchReport` with the problems listed.

        `receipts`: after the batch, read `message/info` for the delivered items
        (True), or a share of them (0.1: about one in ten), and count them in the
        report (`receipts_checked`, `delivered_to_device`, `read`;
        `resources/_receipts.py`). One request an item checked (two for a
        broadcast item with no echo).

        Raises:
            BatchStoppedError: a fatal error (credentials, permissions, an unknown
                host, a checkpoint that cannot be written) stopped the batch; its
                `report` holds the results made before it stopped.
            CheckpointError: the checkpoint is held by another run, or unusable.
        """
        sampler = ReceiptSampler(receipts_share(receipts))
        report = BatchReport()
        started = time.monotonic()
        try:
            async with self.iter_send(items, **options) as results:
                try:
                    async for result in results:
                        report.add(result)
                        if sampler.share:
                            sampler.offer(result)
                finally:
                    report.skipped = results.progress().skipped
                    report.duration = time.monotonic() - started
        except BatchStoppedError as stop:  # what was done travels with the error
            stop.report = report
            raise
        if sampler.kept:
            await check_receipts(
                self,
                sampler,
                report,
                options.get("echoes"),
                self._ctx.on_behalf_of,
                options.get("settle", 3.0),
            )
        return report
