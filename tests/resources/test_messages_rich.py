"""km.messages.send with rich messages, and km.messages.send_file: exact bytes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec
import pytest

from kommunicate_async import (
    APIConnectionError,
    InvalidRequestError,
    KommunicateSession,
    ResponseValidationError,
    rich,
)
from kommunicate_async.rich import QuickReply
from tests.fixtures import fixture, raw
from tests.payloads import load

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from tests.mockapi import MockApi

SEND = "/rest/ws/message/v2/send"
UPLOAD = "/rest/ws/upload/file"
ATTACH = "/rest/ws/message/send"
FILE_META = b'{"fileMeta":{"blobKey":"AMIfv9","name":"a.pdf","size":5,"contentType":"application/pdf","url":"https://chat.test/rest/ws/aws/file/AMIfv9"}}'


async def test_rich_send_matches_the_corrected_docs_body(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add("POST", SEND, body=load("send_message_bare"))
    message = rich.suggested_replies(
        "Do you want more updates?",
        [
            QuickReply("Yes", "Cool! send me more."),
            QuickReply("No ", "Don't send it to me again"),
        ],
    )
    await km.messages.send(7, message, sender="userId of sender")
    sent = msgspec.json.decode(api.only_call("POST", SEND).kwargs["data"])
    want = fixture("send-api/send-message.quick-replies.kd2019-corrected.json")
    assert sent == {**want, "groupId": 7}
    # the payload is a string holding valid JSON, stringified exactly once
    assert msgspec.json.decode(sent["metadata"]["payload"])[1]["title"] == "No "


async def test_rich_metadata_merges_with_extra_metadata(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add("POST", SEND, body=load("send_message_bare"))
    await km.messages.send(
        1, rich.suggested_replies("Pick", ["A"]), metadata={"skipBot": True}
    )
    assert api.only_call("POST", SEND).kwargs["data"] == (
        b'{"groupId":1,"message":"Pick","fromUserName":"bot","metadata":{"contentType":"300",'
        b'"templateId":"6","payload":"[{\\"title\\":\\"A\\",\\"message\\":\\"A\\"}]","skipBot":"true"}}'
    )


async def test_html_goes_as_content_type_3(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add("POST", SEND, body=load("send_message_bare"))
    await km.messages.send(1, rich.html("<b>Hi</b>"))
    assert api.only_call("POST", SEND).kwargs["data"] == (
        b'{"groupId":1,"message":"<b>Hi</b>","fromUserName":"bot","contentType":3}'
    )


async def test_conflicting_metadata_is_refused_before_sending(
    api: MockApi, km: KommunicateSession
) -> None:
    with pytest.raises(InvalidRequestError, match="conflicts with the rich message"):
        await km.messages.send(
            1, rich.suggested_replies("Pick", ["A"]), metadata={"templateId": "3"}
        )
    assert api.count() == 0


async def test_send_file_uploads_then_sends_the_file_meta(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add("POST", UPLOAD, body=FILE_META)
    api.add("POST", ATTACH, body=b'{"messageKey":"5-f","createdAt":9}')
    sent = await km.messages.send_file(
        "order-1",
        b"%PDF-",
        name="a.pdf",
        caption="Your invoice",
        sender="agent@acme.io",
    )
    assert sent.key == "5-f"
    upload = api.only_call("POST", UPLOAD)
    assert upload.kwargs["headers"]["Of-User-Id"] == "agent@acme.io"
    assert "Content-Type" not in upload.kwargs["headers"]  # aiohttp writes the boundary
    attach = api.only_call("POST", ATTACH)
    assert attach.kwargs["headers"]["Of-User-Id"] == "agent@acme.io"
    assert attach.kwargs["data"] == (
        b'{"clientGroupId":"order-1","message":"Your invoice","type":1,"contentType":1,'
        b'"fileMeta":{"blobKey":"AMIfv9","name":"a.pdf","url":"https://chat.test/rest/ws/aws/file/AMIfv9",'
        b'"size":5,"contentType":"application/pdf"},"source":1}'
    )


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(FILE_META, id="fileMeta-wrapped"),
        pytest.param(b'{"blobKey":"AMIfv9","name":"a.pdf","size":5}', id="bare-meta"),
        pytest.param(
            b'{"status":"success","response":{"fileMeta":{"blobKey":"AMIfv9"}}}',
            id="enveloped",
        ),
    ],
)
async def test_upload_reply_shapes_are_read_tolerantly(
    api: MockApi, km: KommunicateSession, reply: bytes
) -> None:
    # UNCERTAIN (docs/wire.md#files): the SDKs read `fileMeta` from the reply; a
    # bare or enveloped meta is accepted too.
    api.add("POST", UPLOAD, body=reply)
    api.add("POST", ATTACH, body=b'{"messageKey":"5-f"}')
    await km.messages.send_file(1, b"12345", name="a.pdf")
    sent = msgspec.json.decode(api.only_call("POST", ATTACH).kwargs["data"])
    assert sent["fileMeta"]["blobKey"] == "AMIfv9"


async def test_upload_without_meta_is_a_validation_error(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add("POST", UPLOAD, body=b'{"status":"success"}')
    with pytest.raises(ResponseValidationError, match="success reply with no result"):
        await km.messages.send_file(1, b"12345", name="a.pdf")
    assert api.calls("POST", ATTACH) == []


async def test_attachment_send_that_may_have_landed_is_ambiguous(
    api: MockApi, km: KommunicateSession
) -> None:
    from aiohttp import ServerDisconnectedError

    api.add("POST", UPLOAD, body=FILE_META)
    api.add("POST", ATTACH, exception=ServerDisconnectedError())
    with pytest.raises(APIConnectionError) as caught:
        await km.messages.send_file(1, b"12345", name="a.pdf")
    assert caught.value.ambiguous
    assert len(api.calls("POST", ATTACH)) == 1  # never re-sent blindly


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


@pytest.mark.parametrize(
    ("file", "kwargs", "match"),
    [
        pytest.param(b"", {"name": "a.pdf"}, "the file is empty", id="empty-bytes"),
        pytest.param(b"x", {}, "name= is required", id="bytes-without-name"),
        pytest.param(
            b"x",
            {"name": "a.unknownext"},
            "cannot tell the content type",
            id="unknown-type",
        ),
        pytest.param(
            b"x", {"name": "a", "content_type": "pdf"}, "MIME type", id="bad-type"
        ),
        pytest.param(
            b"xx",
            {"name": "a.pdf", "max_size": 1},
            "larger than max_size=1",
            id="too-big",
        ),
        pytest.param(
            3, {"name": "a.pdf"}, "file must be bytes, a path", id="not-a-file"
        ),
        pytest.param(
            b"x", {"name": "a\r\nb.pdf"}, "control characters", id="crlf-name"
        ),
        pytest.param(
            b"x",
            {"name": "a.pdf", "caption": ""},
            "caption must not be empty",
            id="empty-caption",
        ),
    ],
)
async def test_bad_files_are_refused_before_upload(
    api: MockApi,
    km: KommunicateSession,
    file: object,
    kwargs: dict[str, object],
    match: str,
) -> None:
    with pytest.raises(InvalidRequestError, match=match):
        await km.messages.send_file(1, file, **kwargs)  # type: ignore[arg-type]
    assert api.count() == 0


async def test_empty_stream_and_missing_path_are_refused_before_upload(
    api: MockApi, km: KommunicateSession, tmp_path: Path
) -> None:
    with pytest.raises(InvalidRequestError, match="the file is empty"):
        await km.messages.send_file(1, _chunks(b"", b""), name="a.png")
    with pytest.raises(InvalidRequestError, match="cannot read 'nope.pdf'"):
        await km.messages.send_file(1, tmp_path / "nope.pdf")
    (tmp_path / "empty.pdf").write_bytes(b"")
    with pytest.raises(InvalidRequestError, match="'empty.pdf' is empty"):
        await km.messages.send_file(1, tmp_path / "empty.pdf")
    with pytest.raises(InvalidRequestError, match="is not a regular file"):
        await km.messages.send_file(1, tmp_path)
    assert api.count() == 0


def test_message_rich_reads_templates_back() -> None:
    from kommunicate_async import Message

    document = fixture("send-api/send-message.quick-replies.kd2019-corrected.json")
    message = Message(key="k", metadata=document["metadata"])
    assert message.rich is not None
    assert message.rich.template_id == "6"
    assert [b["title"] for b in message.rich.payload] == ["Yes", "No "]
    assert Message(key="k").rich is None
    broken = fixture("bot-extra/p2_send_rich_message_doc_AS_PUBLISHED_BROKEN.json")
    unreadable = Message(key="k", metadata=broken["metadata"]).rich
    assert unreadable is not None and unreadable.payload is None
    assert unreadable.raw_payload == broken["metadata"]["payload"]


def test_load_rich_accepts_fixtures_and_refuses_the_broken_docs_example() -> None:
    for name in (
        "card-carousel",
        "form.data-validation",
        "list",
        "link-buttons",
        "auto-suggestion",
    ):
        assert rich.load_rich(raw(f"rich/{name}.json")).metadata
    sent_form = rich.load_rich(
        raw("send-api/send-message.quick-replies.kd2019-corrected.json")
    )
    assert (
        sent_form.metadata["payload"][0]["title"] == "Yes"
    )  # a string payload is decoded
    with pytest.raises(
        InvalidRequestError, match="payload is a string but not valid JSON"
    ):
        rich.load_rich(
            raw("bot-extra/p2_send_rich_message_doc_AS_PUBLISHED_BROKEN.json")
        )
