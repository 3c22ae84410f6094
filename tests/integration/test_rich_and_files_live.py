"""Rich messages and file sends end to end against FakeKommunicate."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
import pytest

from kommunicate_async import InvalidRequestError, KommunicateSession, rich

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from kommunicate_async.testing import FakeKommunicate


async def test_send_file_bytes_path_and_stream(
    fake: FakeKommunicate, session: KommunicateSession, tmp_path: Path
) -> None:
    chat = await session.conversations.create(["user-1"])
    pdf = tmp_path / "invoice.pdf"
    pdf.write_bytes(b"%PDF-1.4 " + b"x" * 200_000)

    async def stream() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b"\x89PNG" * 1000

    await session.messages.send_file(chat, b"hello", name="note.txt", caption="A note")
    await session.messages.send_file(chat, pdf, sender="agent@acme.io")
    await session.messages.send_file(chat.id, stream(), name="shot.png")

    history = [m async for m in session.messages.list(chat)]
    metas = [m.file_meta for m in reversed(history)]
    assert [(f.name, f.content_type, f.size) for f in metas if f] == [
        ("note.txt", "text/plain", 5),
        ("invoice.pdf", "application/pdf", 200_009),
        ("shot.png", "image/png", 16_000),
    ]
    assert [m.text for m in reversed(history)] == ["A note", "", ""]
    stored = fake.messages(chat.id)
    assert stored[1].sender == "agent@acme.io"
    # the file meta points at the stored bytes
    assert metas[1] is not None and metas[1].url is not None
    url = metas[1].url
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers={"Api-Key": fake.api_key}) as reply:
            assert reply.status == 200
            assert await reply.read() == pdf.read_bytes()


async def test_stream_over_the_cap_is_cut_off_and_nothing_is_sent(
    fake: FakeKommunicate, session: KommunicateSession
) -> None:
    chat = await session.conversations.create(["user-1"])

    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b"x" * 1024

    with pytest.raises(InvalidRequestError, match="larger than max_size=10000"):
        await session.messages.send_file(
            chat,
            endless(),
            name="big.bin",
            content_type="application/octet-stream",
            max_size=10_000,
        )
    assert fake.messages(chat.id) == []
    assert fake.requests_to("POST /rest/ws/message/send") == []


async def test_rich_history_reads_back(
    fake: FakeKommunicate, session: KommunicateSession
) -> None:
    chat = await session.conversations.create(["user-1"])
    sent = rich.carousel(
        "Rooms",
        [rich.Card("Room 1", buttons=(rich.LinkButton("Book", "https://e.x/1"),))],
    )
    await session.messages.send(chat, sent)
    (message,) = [m async for m in session.messages.list(chat)]
    assert message.rich is not None and message.rich.template_id == "10"
    assert message.rich.payload == sent.metadata["payload"]
    assert (
        fake.messages(chat.id)[0].metadata["payload"]
        == '[{"title":"Room 1","buttons":[{"name":"Book","action":{"type":"link","payload":{"url":"https://e.x/1"}}}]}]'
    )


async def test_the_fake_answers_uploads_like_the_real_service(
    fake: FakeKommunicate, session: KommunicateSession
) -> None:
    """upload/image: a bare fileMeta kept whole in the message; upload/file: a text
    URL; file/url: a signed text URL (Android FileClientService.java, S3URLService)."""
    chat = await session.conversations.create(["user-1"])
    await session.messages.send_file(chat, b"hello", name="note.txt", key="k-1")
    stored = fake.messages(chat.id)[-1]
    meta = stored.file_meta or {}
    assert {"userKey", "thumbnailBlobKey", "createdAtTime"} <= set(meta)
    [upload] = fake.requests_to("POST /rest/ws/upload/image")
    assert upload.query == {"aclsPrivate": "true"}
    url = await session.messages.file_url(meta["blobKey"])
    assert url.startswith(f"{fake.url}/rest/ws/aws/file/{meta['blobKey']}?")
    async with aiohttp.ClientSession() as http:
        form = aiohttp.FormData()
        form.add_field("file", b"x", filename="me.png", content_type="image/png")
        headers = {"Api-Key": fake.api_key}
        async with http.post(
            f"{fake.url}/rest/ws/upload/file", data=form, headers=headers
        ) as reply:
            assert reply.content_type == "text/plain"
            assert (await reply.text()).startswith(f"{fake.url}/rest/ws/aws/file/")


async def test_the_fake_refuses_malicious_uploads_and_closed_conversations(
    fake: FakeKommunicate, session: KommunicateSession
) -> None:
    from kommunicate_async import (
        ConversationClosedError,
        ConversationStatus,
        UploadRefusedError,
    )

    chat = await session.conversations.create(["user-1"])
    fake.refuse_uploads = True
    with pytest.raises(UploadRefusedError):
        await session.messages.send_file(chat, b"MZ", name="a.exe", content_type="x/y")
    fake.refuse_uploads = False
    await session.conversations.set_status(chat, ConversationStatus.RESOLVED)
    with pytest.raises(ConversationClosedError) as caught:
        await session.messages.send_file(chat, b"hi", name="a.txt")
    assert not caught.value.ambiguous
