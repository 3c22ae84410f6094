"""Message and conversation lifecycle: delivery state, by-key reads, metadata
updates, deletes (chat host; docs/wire.md#lifecycle).

`km.messages`, `km.conversations` and `km.users` expose these as methods; the
requests live here so those modules only gain thin wrappers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Literal, cast

from .._codec import encode
from .._errors import APIError, InvalidRequestError
from .._metadata import stringify_metadata
from .._pipeline.reply import NoResult
from .._pipeline.routing import Host, Route
from .._validate import check_id, check_ids
from ..models._base import UNSET, Model, UnsetType
from ..models.inbox import Receipt
from ..models.message import Message
from ._base import Context, ref_params
from ._loose import call_loose, call_text, convert, repeated

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from ..models.conversation import ConversationRef

__all__ = [
    "block_user",
    "create_user",
    "delete_conversation",
    "delete_conversation_messages",
    "delete_message",
    "message_info",
    "messages_by_key",
    "update_message_metadata",
]

INFO: Final = Route("GET", "/rest/ws/message/info", Host.CHAT)
DETAIL: Final = Route("GET", "/rest/ws/message/detail", Host.CHAT)
UPDATE_METADATA: Final = Route("POST", "/rest/ws/message/update/metadata", Host.CHAT)
DELETE: Final = Route("GET", "/rest/ws/message/delete", Host.CHAT)
DELETE_THREAD: Final = Route("GET", "/rest/ws/message/delete/conversation", Host.CHAT)
GROUP_DELETE: Final = Route("GET", "/rest/ws/group/delete", Host.CHAT)
USER_CREATE: Final = Route(
    "POST", "/rest/ws/user/v2/create", Host.CHAT, idempotent=False
)
BLOCK: Final = Route("GET", "/rest/ws/user/block", Host.CHAT)
UNBLOCK: Final = Route("GET", "/rest/ws/user/unblock", Host.CHAT)
_MAX_KEYS: Final = 100


class MetadataUpdateBody(Model, frozen=True, kw_only=True):
    """`POST message/update/metadata` (Web SDK `mck-sidebox-1.0.js`)."""

    key: str
    metadata: dict[str, str]


class CreateUserBody(Model, frozen=True, kw_only=True):
    """`POST user/v2/create` (Applozic admin docs, A27)."""

    user_id: str
    role_name: str
    password: str | UnsetType = UNSET
    display_name: str | UnsetType = UNSET
    email: str | UnsetType = UNSET
    image_link: str | UnsetType = UNSET


async def message_info(ctx: Context, key: str, acting: str) -> list[Receipt]:
    """`GET message/info?key=`: who got and read the message."""
    check_id(key, "key")
    found: list[Receipt] | None = await call_loose(
        ctx, INFO, list[Receipt], "message/info", params={"key": key}, acting_as=acting
    )
    return found or []


async def messages_by_key(
    ctx: Context, keys: str | Iterable[str], acting: str
) -> list[Message]:
    """`GET message/detail?keys=k1&keys=k2` (the envelope is UNCERTAIN)."""
    wanted = check_ids(keys, "keys")
    if len(wanted) > _MAX_KEYS:
        raise InvalidRequestError(f"at most {_MAX_KEYS} keys per call")
    found: object = await call_loose(
        ctx,
        DETAIL,
        Any,
        "message/detail",
        params=repeated(None, "keys", wanted),
        acting_as=acting,
    )
    if isinstance(found, dict):  # a message-list shape: {message: [...], ...}
        fields = cast("dict[str, object]", found)
        listed: object = [fields]
        found = fields.get("message", fields.get("messages", listed))
    if found is None:
        return []
    return convert(found, list[Message], "message/detail")


async def update_message_metadata(
    ctx: Context, key: str, metadata: Mapping[str, object], acting: str
) -> None:
    """`POST message/update/metadata {key, metadata}`; merge or replace is
    UNCERTAIN, so send every key the message should keep."""
    check_id(key, "key")
    if not metadata:
        raise InvalidRequestError("metadata must not be empty")
    body = MetadataUpdateBody(key=key, metadata=stringify_metadata(metadata))
    await ctx.client.call(
        UPDATE_METADATA, NoResult, body=encode(body), acting_as=acting
    )


async def delete_message(ctx: Context, key: str, *, for_all: bool, acting: str) -> None:
    """`GET message/delete?key=[&deleteForAll=true]` (text `success`/`error`)."""
    check_id(key, "key")
    if not isinstance(for_all, bool):
        raise InvalidRequestError("for_all must be a bool")
    params: dict[str, str | int] = {"key": key}
    if for_all:
        params["deleteForAll"] = "true"
    await call_text(ctx, DELETE, params=params, acting_as=acting)


async def delete_conversation_messages(
    ctx: Context, ref: ConversationRef, acting: str
) -> None:
    """`GET message/delete/conversation?groupId=`: the acting member's copy."""
    group_id = await ctx.group_id(ref, on_behalf_of=acting)
    await call_text(ctx, DELETE_THREAD, params={"groupId": group_id}, acting_as=acting)


async def delete_conversation(ctx: Context, ref: ConversationRef, acting: str) -> None:
    """`GET group/delete?groupId=` or `?clientGroupId=` (the group's admin)."""
    params = ref_params(ref)
    found: object = await call_loose(
        ctx, GROUP_DELETE, Any, "group/delete", params=params, acting_as=acting
    )
    if found is False:
        raise APIError(200, None, "group/delete answered false: nothing was deleted")


async def create_user(
    ctx: Context,
    user_id: str,
    *,
    role: Literal["USER", "BOT"],
    password: str | None,
    display_name: str | None,
    email: str | None,
    image_link: str | None,
) -> None:
    """`POST user/v2/create` (admin); a bot needs a password."""
    check_id(user_id, "user_id")
    if role not in ("USER", "BOT"):
        raise InvalidRequestError("role must be 'USER' or 'BOT'")
    _check_password(role, password)
    ctx.client.transport.secrets.add(password, lasting=False)
    fields = {"display_name": display_name, "email": email, "image_link": image_link}
    for name, value in fields.items():
        if value is not None:
            check_id(value, name)
    body = CreateUserBody(
        user_id=user_id,
        role_name=role,
        password=UNSET if password is None else password,
        display_name=UNSET if display_name is None else display_name,
        email=UNSET if email is None else email,
        image_link=UNSET if image_link is None else image_link,
    )
    await ctx.client.call(USER_CREATE, NoResult, body=encode(body))


def _check_password(role: Literal["USER", "BOT"], password: str | None) -> None:
    """A password, when given, must be a non-empty str; a bot must have one
    (it logs in with it)."""
    if password is not None and not (
        isinstance(cast("object", password), str) and password
    ):
        raise InvalidRequestError("password must be a non-empty str")
    if role == "BOT" and password is None:
        raise InvalidRequestError("a bot needs a password")


async def block_user(ctx: Context, user_id: str, *, block: bool, acting: str) -> None:
    """`GET user/block?userId=` or `user/unblock` (for the acting user only)."""
    check_id(user_id, "user_id")
    await call_loose(
        ctx,
        BLOCK if block else UNBLOCK,
        Any,
        "user/block",
        params={"userId": user_id},
        acting_as=acting,
    )
