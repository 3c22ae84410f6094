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
UPLOAD = "/rest/ws/upload/image"
PRIVATE = {"aclsPrivate": "true"}
ATTACH = "/rest/ws/message/send"
# A bare fileMeta, the way upload/image answers (Android FileMeta.java fields), with a
# field we do not know: all of it must reach the attachment message unchanged.
FILE_META = (
    b'{"key":"ag9zfmFw","userKey":"uk-1","blobKey":"AMIfv9","thumbnailBlobKey":"th-AMIfv9",'
    b'"name":"a.pdf","url":"https://chat.test/rest/ws/aws/file/AMIfv9","size":5,'
    b'"contentType":"application/pdf","createdAtTime":1700000000000,"futureField":[1,{"x":null}]}'
)
KEY = "0b7d5c2e-1d4f-4f8e-9d0a-2f1c3b4a5d6e"


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
    """upload/image?aclsPrivate=true, part `file`, the bare fileMeta passed on whole
    with a client `key` (Android FileClientService.java, MessageClientService.java)."""
    api.add("POST", UPLOAD, params=PRIVATE, body=FILE_META)
    api.add("POST", ATTACH, body=b'{"messageKey":"5-f","createdAt":9}')
    sent = await km.messages.send_file(
        "order-1",
        b"%PDF-",
        name="a.pdf",
        caption="Your invoice",
        sender="agent@acme.io",
        key=KEY,
    )
    assert sent.key == "5-f"
    upload = api.only_call("POST", UPLOAD, params=PRIVATE)
    assert upload.kwargs["headers"]["Of-User-Id"] == "agent@acme.io"
    assert "Content-Type" not in upload.kwargs["headers"]  # aiohttp writes the boundary
    form = upload.kwargs["data"]
    assert [f[0]["name"] for f in form._fields] == ["file"]
    attach = api.only_call("POST", ATTACH)
    assert attach.kwargs["headers"]["Of-User-Id"] == "agent@acme.io"
    assert attach.kwargs["data"] == (
        b'{"clientGroupId":"order-1","message":"Your invoice","key":"'
        + KEY.encode()
        + b'","type":1,"contentType":1,"fileMeta":'
        + FILE_META
        + b',"source":1}'
    )


async def test_send_file_makes_a_uuid_key_by_default(
    api: MockApi, km: KommunicateSession
) -> None:
    import uuid

    api.add("POST", UPLOAD, params=PRIVATE, body=FILE_META)
    api.add("POST", ATTACH, body=b'{"messageKey":"5-f"}')
    await km.messages.send_file(1, b"12345", name="a.pdf")
    sent = msgspec.json.decode(api.only_call("POST", ATTACH).kwargs["data"])
    assert str(uuid.UUID(sent["key"])) == sent["key"]


async def test_malicious_content_is_a_typed_refusal(
    api: MockApi, km: KommunicateSession
) -> None:
    """Web SDK mck-sidebox-1.0.js L13211: `{"errorCode":"MALICIOUS_CONTENT"}`."""
    from kommunicate_async import UploadRefusedError

    api.add("POST", UPLOAD, params=PRIVATE, body=b'{"errorCode":"MALICIOUS_CONTENT"}')
    with pytest.raises(UploadRefusedError) as caught:
        await km.messages.send_file(1, b"12345", name="a.pdf")
    assert caught.value.code == "MALICIOUS_CONTENT"
    assert not caught.value.ambiguous
    assert api.calls("POST", ATTACH) == []


async def test_file_url_reads_the_plain_text_signed_url(
    api: MockApi, km: KommunicateSession
) -> None:
    """Android S3URLService.java: `GET {chat}/rest/ws/file/url?key=` answers text."""
    url_path = "/rest/ws/file/url"
    api.add(
        "GET", url_path, params={"key": "AMIfv9"}, body=b"https://s3.test/a?sig=1\n"
    )
    assert await km.messages.file_url("AMIfv9") == "https://s3.test/a?sig=1"
    call = api.only_call("GET", url_path, params={"key": "AMIfv9"})
    assert call.kwargs["headers"]["Of-User-Id"] == "bot"
    api.add("GET", url_path, params={"key": "x"}, body=b'{"status":"success"}')
    with pytest.raises(ResponseValidationError, match="no URL"):
        await km.messages.file_url("x")


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(FILE_META, id="bare-meta-as-sdks"),
        pytest.param(b'{"fileMeta":{"blobKey":"AMIfv9"}}', id="fileMeta-wrapped"),
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
    # The SDKs read a bare fileMeta; the legacy wrapped and an enveloped meta are
    # accepted too (docs/wire.md#files).
    api.add("POST", UPLOAD, params=PRIVATE, body=reply)
    api.add("POST", ATTACH, body=b'{"messageKey":"5-f"}')
    await km.messages.send_file(1, b"12345", name="a.pdf")
    sent = msgspec.json.decode(api.only_call("POST", ATTACH).kwargs["data"])
    assert sent["fileMeta"]["blobKey"] == "AMIfv9"


async def test_upload_without_meta_is_a_validation_error(
    api: MockApi, km: KommunicateSession
) -> None:
    api.add("POST", UPLOAD, params=PRIVATE, body=b'{"status":"success"}')
    with pytest.raises(ResponseValidationError, match="no fileMeta"):
        await km.messages.send_file(1, b"12345", name="a.pdf")
    assert api.calls("POST", ATTACH) == []


async def test_attachment_send_that_may_have_landed_is_ambiguous(
    api: MockApi, km: KommunicateSession
) -> None:
    from aiohttp import ServerDisconnectedError

    api.add("POST", UPLOAD, params=PRIVATE, body=FILE_META)
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


@pytest.mark.parametrize(
    ("word", "error_name"),
    [
        ("CONVERSATION_CLOSED", "ConversationClosedError"),
        ("BUSY_WITH_OTHER", "AgentBusyError"),
    ],
)
@pytest.mark.parametrize("path", [SEND, ATTACH])
async def test_bare_string_refusals_are_typed_and_not_ambiguous(
    api: MockApi, km: KommunicateSession, word: str, error_name: str, path: str
) -> None:
    """Web SDK mck-sidebox-1.0.js L5738-5800: message/send answers a bare string."""
    import kommunicate_async

    api.add("POST", UPLOAD, params=PRIVATE, body=FILE_META)
    api.add("POST", path, body=b'"' + word.encode() + b'"')
    with pytest.raises(getattr(kommunicate_async, error_name)) as caught:
        if path == SEND:
            await km.messages.send(1, "hi")
        else:
            await km.messages.send_file(1, b"12345", name="a.pdf")
    assert caught.value.code == word
    assert not caught.value.ambiguous
    assert len(api.calls("POST", path)) == 1  # a definite answer: never retried
