"""The fake's request bodies and its raw answers."""

from __future__ import annotations

import email.policy
from email.parser import BytesParser
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "AttachmentSend",
    "GroupCreate",
    "GroupUpdate",
    "Member",
    "Register",
    "Send",
    "Stop",
    "UserIds",
    "UserUpdate",
    "json_response",
    "parse_file_part",
]

_JSON = "application/json"


class Stop(Exception):
    """Raised by a check to answer at once with `response`."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


class GroupCreate(msgspec.Struct, rename="camel"):
    group_name: str = ""
    group_member_list: list[str] = []
    client_group_id: str | int | None = None
    metadata: dict[str, Any] | None = None


class Send(msgspec.Struct, rename="camel"):
    message: str = ""
    from_user_name: str = ""
    group_id: int | str | None = None
    client_group_id: str | None = None
    metadata: dict[str, Any] | None = None
    content_type: int = 0


class AttachmentSend(msgspec.Struct, rename="camel"):
    message: str = ""
    key: str | None = None
    group_id: int | str | None = None
    client_group_id: str | None = None
    metadata: dict[str, Any] | None = None
    content_type: int = 1
    file_meta: dict[str, Any] | None = None


class GroupUpdate(msgspec.Struct, rename="camel"):
    group_id: int | str | None = None
    client_group_id: str | None = None
    metadata: dict[str, Any] | None = None
    new_name: str | None = None


class Member(msgspec.Struct, rename="camel"):
    user_id: str = ""
    group_id: int | str | None = None
    client_group_id: str | None = None


class UserUpdate(msgspec.Struct, rename="camel"):
    display_name: str | None = None
    email: str | None = None
    image_link: str | None = None
    metadata: dict[str, Any] | None = None


class Register(msgspec.Struct, rename="camel"):
    user_id: str = ""
    application_id: str = ""
    password: str | None = None


class UserIds(msgspec.Struct, rename="camel"):
    user_id_list: list[str] = []


def parse_file_part(
    content_type: str, headers: Mapping[str, str], body: bytes
) -> tuple[str, str, bytes] | None:
    """(filename, content type, bytes) of the multipart part named `file`."""
    if content_type != "multipart/form-data":
        return None
    head = f"Content-Type: {headers.get('Content-Type', '')}\r\n\r\n".encode()
    message = BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "file":
            data = part.get_payload(decode=True)
            return (
                part.get_filename() or "file",
                part.get_content_type(),
                data if isinstance(data, bytes) else b"",
            )
    return None


def json_response(payload: object, status: int = 200, **headers: str) -> web.Response:
    """A JSON response encoded with msgspec."""
    return web.Response(
        status=status,
        body=msgspec.json.encode(payload),
        content_type=_JSON,
        headers=headers,
    )
