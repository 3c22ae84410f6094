"""The fake's endpoints, in the wire format of the Kommunicate API reference."""

from __future__ import annotations

import asyncio
import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import msgspec
from aiohttp import web

if TYPE_CHECKING:
    from ._server import FakeKommunicate
    from ._state import FakeGroup
from ._broadcast import sendall
from ._routes_more import MoreRoutes
from ._state import FakeFile
from ._wire import (
    AttachmentSend,
    GroupCreate,
    GroupUpdate,
    Member,
    Register,
    Send,
    Stop,
    UserIds,
    UserUpdate,
    json_response,
    parse_file_part,
)

__all__ = ["Routes"]

_JSON = "application/json"


class Routes:
    """Request handlers over one fake's state."""

    def __init__(self, fake: FakeKommunicate) -> None:
        self.fake = fake
        self.state = fake.state

    # -- answers ----------------------------------------------------------------------

    def ok(self, response: object) -> web.Response:
        """The success envelope."""
        body = {
            "status": "success",
            "generatedAt": self.state.now_ms(),
            "response": response,
        }
        return json_response(body)

    def fail(
        self, description: str, *, status: int = 200, code: str | None = None
    ) -> Stop:
        """An error envelope (HTTP 200 unless said otherwise, as Applozic does)."""
        item: dict[str, str] = {
            "description": description,
            "displayMessage": description,
        }
        if code:
            item["errorCode"] = code
        envelope = {
            "status": "error",
            "generatedAt": self.state.now_ms(),
            "errorResponse": [item],
        }
        return Stop(json_response(envelope, status=status))

    def maybe_bare(self, payload: object, *, bare_by_default: bool) -> web.Response:
        """Bare or enveloped, per the fake's `bare` switch (docs/wire.md#replies)."""
        bare = self.fake.bare if self.fake.bare is not None else bare_by_default
        return json_response(payload) if bare else self.ok(payload)

    # -- request parts ----------------------------------------------------------------

    async def body(self, request: web.Request, tp: type[Any]) -> Any:
        raw = await request.read()
        try:
            return msgspec.json.decode(raw or b"{}", type=tp)
        except msgspec.DecodeError as exc:
            raise self.fail(f"invalid request body: {exc}", status=400) from None

    def strings(self, metadata: dict[str, Any] | None) -> dict[str, str]:
        """Metadata must be string -> string (docs/wire.md#metadata)."""
        if metadata is None:
            return {}
        for key, value in metadata.items():
            if not isinstance(value, str):
                raise self.fail(
                    f"metadata value of {key!r} must be a string", status=400
                )
        return dict(metadata)

    def actor(
        self, request: web.Request, *, platform: bool, need_user: bool = False
    ) -> str | None:
        """Who acts: `Of-User-Id` with a good Api-Key, or a valid user token's user."""
        headers = request.headers
        key = headers.get("Api-Key")
        if key is not None:
            if key != self.fake.api_key:
                raise self.fail("unauthorized user", status=401, code="AL-UN-01")
            acting = headers.get("Of-User-Id")
            if need_user and not acting:
                raise self.fail("Of-User-Id header is required", status=400)
            return acting
        token = headers.get("X-Authorization")
        if token is not None and not platform:
            if headers.get("Application-Key") != self.fake.app_id:
                raise self.fail("invalid Application-Key", status=401, code="AL-UN-01")
            user_id, why = self.fake.tokens.verify(token, now_ms=self.state.now_ms())
            if user_id is None:
                raise self.fail(why, status=401, code="AL-UN-01")
            return user_id
        raise self.fail("authentication required", status=401, code="AL-UN-01")

    def group(
        self, group_id: int | str | None, client_group_id: str | None
    ) -> FakeGroup:
        numeric: int | None = None
        if group_id is not None and str(group_id).strip():
            try:
                numeric = int(group_id)
            except ValueError:
                raise self.fail(f"invalid groupId {group_id!r}", status=400) from None
        found = self.state.find_group(numeric, client_group_id)
        if found is None:
            raise self.fail("group not found", code="AL-G-01")
        return found

    def query_group(self, request: web.Request) -> FakeGroup:
        return self.group(
            request.query.get("groupId"), request.query.get("clientGroupId")
        )

    def query_int(
        self, request: web.Request, name: str, default: int | None
    ) -> int | None:
        raw = request.query.get(name)
        if raw is None:
            return default
        try:
            return int(raw)
        except ValueError:
            raise self.fail(f"{name} must be a number", status=400) from None

    # -- platform endpoints (Api-Key) -------------------------------------------------

    async def create_conversation(self, request: web.Request) -> web.Response:
        acting = self.actor(request, platform=True)
        body: GroupCreate = await self.body(request, GroupCreate)
        if not body.group_name.strip():
            raise self.fail("groupName is required", status=400)
        if not body.group_member_list:
            raise self.fail("groupMemberList is required", status=400)
        metadata = self.strings(body.metadata)
        client_id = None if body.client_group_id is None else str(body.client_group_id)
        if client_id is not None and client_id in self.state.by_client_id:
            raise self.fail("group already exists")
        group = self.state.create_group(
            name=body.group_name,
            members=body.group_member_list,
            client_group_id=client_id,
            metadata=metadata,
            admin_id=acting or "bot",
        )
        return self.ok(group.wire(unread=0))

    async def send_message(self, request: web.Request) -> web.Response:
        self.actor(request, platform=True)
        body: Send = await self.body(request, Send)
        if not body.message:
            raise self.fail("message is required", status=400)
        if not body.from_user_name:
            raise self.fail("fromUserName is required", status=400)
        metadata = self.strings(body.metadata)
        group = self.group(body.group_id, body.client_group_id)
        self.state.ensure_user(body.from_user_name)
        if self.fake.commit_delay:
            # A slow commit: it lands whether or not the client is still waiting
            # (aiohttp does not cancel a handler when its client goes away).
            await asyncio.sleep(self.fake.commit_delay)
        message = self.state.send(
            group,
            body.from_user_name,
            body.message,
            metadata,
            content_type=body.content_type,
        )
        self.fake.echoes.send(message)  # to `fake.webhook_url`, when one is set
        reply = {"messageKey": message.key, "createdAt": message.created_at}
        return self.maybe_bare(reply, bare_by_default=True)

    async def sendall(self, request: web.Request) -> web.Response:
        """`message/sendall`: one message to many conversations (`_broadcast.py`)."""
        return await sendall(self, request)

    async def _stored_upload(self, request: web.Request) -> FakeFile:
        acting = self.actor(request, platform=False)
        found = parse_file_part(
            request.content_type, request.headers, await request.read()
        )
        if found is None:
            raise self.fail("multipart part 'file' is required", status=400)
        name, kind, data = found
        blob_key = f"blob-{secrets.token_hex(8)}"
        stored = FakeFile(blob_key, name, kind, data, acting, self.state.now_ms())
        self.state.files[blob_key] = stored
        return stored

    async def upload_image(self, request: web.Request) -> web.Response:
        """The attachment upload: multipart `file`; answers a bare fileMeta, or
        `{"errorCode": "MALICIOUS_CONTENT"}` when `fake.refuse_uploads` (Web SDK
        mck-sidebox-1.0.js L13210-13216)."""
        if self.fake.refuse_uploads:
            await request.read()
            return json_response({"errorCode": "MALICIOUS_CONTENT"})
        stored = await self._stored_upload(request)
        return json_response(stored.meta(self.fake.url))

    async def upload_file(self, request: web.Request) -> web.Response:
        """The profile-picture upload: answers the image URL as plain text
        (Android FileClientService.java uploadProfileImage)."""
        stored = await self._stored_upload(request)
        url = stored.meta(self.fake.url)["url"]
        return web.Response(text=url, content_type="text/plain")

    async def file_url(self, request: web.Request) -> web.Response:
        """`file/url?key=<blobKey>`: a signed URL as plain text (S3URLService.java)."""
        self.actor(request, platform=False)
        blob_key = request.query.get("key", "")
        stored = self.state.files.get(blob_key.removeprefix("thumb-"))
        if stored is None:
            raise self.fail("file not found", status=404)
        url = f"{self.fake.url}/rest/ws/aws/file/{stored.blob_key}?X-Signature=fake"
        return web.Response(text=url, content_type="text/plain")

    async def download_file(self, request: web.Request) -> web.StreamResponse:
        self.actor(request, platform=False)
        stored = self.state.files.get(request.match_info["blob_key"])
        if stored is None:
            raise self.fail("file not found", status=404)
        return web.Response(body=stored.data, content_type=stored.content_type)

    async def send_attachment(self, request: web.Request) -> web.Response:
        """`message/send` with the `fileMeta` of an upload; Of-User-Id sends it."""
        sender = self.actor(request, platform=True, need_user=True) or ""
        body: AttachmentSend = await self.body(request, AttachmentSend)
        if not body.key:  # marked required by the api-detail "Send attachments"
            raise self.fail("key is required", status=400)
        blob_key = (body.file_meta or {}).get("blobKey")
        if not isinstance(blob_key, str) or blob_key not in self.state.files:
            raise self.fail("fileMeta.blobKey is not an uploaded file", status=400)
        metadata = self.strings(body.metadata)
        group = self.group(body.group_id, body.client_group_id)
        if group.metadata.get("CONVERSATION_STATUS") == "2":
            # a resolved (closed) conversation: the bare string the widget closes on
            # (Web SDK mck-sidebox-1.0.js L5738-5800)
            return json_response("CONVERSATION_CLOSED")
        self.state.ensure_user(sender)
        message = self.state.send(
            group,
            sender,
            body.message,
            metadata,
            content_type=body.content_type,
            file_meta=body.file_meta,
        )
        self.fake.echoes.send(message)  # to `fake.webhook_url`, when one is set
        reply = {"messageKey": message.key, "createdAt": message.created_at}
        return self.maybe_bare(reply, bare_by_default=True)

    async def user_detail(self, request: web.Request) -> web.Response:
        self.actor(request, platform=True)
        body: UserIds = await self.body(request, UserIds)
        users = [
            self.state.users[u].wire(self.state.unread_total(u))
            for u in dict.fromkeys(body.user_id_list)
            if u in self.state.users
        ]
        # Enveloped per third-party code, bare in the 2019 docs (docs/wire.md#replies).
        return self.maybe_bare(users, bare_by_default=False)

    async def update_user(self, request: web.Request) -> web.Response:
        user_id = self.actor(request, platform=True, need_user=True)
        body: UserUpdate = await self.body(request, UserUpdate)
        user = self.state.users.get(user_id or "")
        if user is None:
            raise self.fail("user not found")
        metadata = self.strings(body.metadata)
        for name in ("display_name", "email", "image_link"):
            value = getattr(body, name)
            if value is not None:
                setattr(user, name, value)
        user.metadata.update(metadata)
        return self.ok("success")

    async def change_assignee(self, request: web.Request) -> web.Response:
        self.actor(request, platform=True, need_user=True)
        group = self.query_group(request)
        assignee = request.query.get("assignee", "")
        if not assignee:  # the routing rules pick (docs/wire.md#handoff)
            free = [
                a for a in self.fake.directory.online if a not in self.state.busy_agents
            ]
            assignee = self.fake.routing_agent or next(iter(free), "")
            if not assignee:
                return self.ok("updated")
            self.state.ensure_user(assignee)
        if assignee not in self.state.users:
            raise self.fail(f"assignee {assignee!r} not found")
        if assignee in self.state.busy_agents:
            return self.ok("AGENT_IS_ALREADY_ENGAGED")
        if group.metadata.get("CONVERSATION_ASSIGNEE") == assignee:
            return self.ok("already updated")
        group.metadata["CONVERSATION_ASSIGNEE"] = assignee
        self.state.add_member(group, assignee)
        if request.query.get("takeOverFromBot", "false") == "true":
            for bot in self.state.bots & set(group.members) - {assignee}:
                self.state.remove_member(group, bot)
        return self.ok("updated")

    async def change_status(self, request: web.Request) -> web.Response:
        self.actor(request, platform=True, need_user=True)
        group = self.query_group(request)
        status = self.query_int(request, "status", None)
        if status is None:
            raise self.fail("status is required", status=400)
        group.metadata["CONVERSATION_STATUS"] = str(status)
        group.updated_at = self.state.now_ms()
        return self.ok("updated")

    # -- chat-host endpoints (Api-Key + Of-User-Id, or a user token) ----------------

    async def group_info(self, request: web.Request) -> web.Response:
        acting = self.actor(request, platform=False)
        group = self.query_group(request)
        unread = self.state.unread.get(acting or "", {}).get(group.id, 0)
        return self.ok(group.wire(unread=unread))

    async def update_group(self, request: web.Request) -> web.Response:
        self.actor(request, platform=False)
        body: GroupUpdate = await self.body(request, GroupUpdate)
        group = self.group(body.group_id, body.client_group_id)
        group.metadata.update(self.strings(body.metadata))  # merged, never dropped
        if body.new_name:
            group.name = body.new_name
        group.updated_at = self.state.now_ms()
        return self.ok("success")

    async def message_list(self, request: web.Request) -> web.Response:
        acting = self.actor(request, platform=False)
        group = self.query_group(request)
        size = self.query_int(request, "pageSize", 50) or 50
        start = self.query_int(request, "startIndex", 0) or 0
        end = self.query_int(request, "endTime", None)
        page = self.state.page(group, end_time=end, start=start, size=size)
        reply = {
            "message": [m.wire(acting) for m in page],
            "userDetails": [],
            "groupFeeds": [
                group.wire(
                    unread=self.state.unread.get(acting or "", {}).get(group.id, 0)
                )
            ],
        }
        return self.maybe_bare(reply, bare_by_default=True)

    async def mark_read(self, request: web.Request) -> web.Response:
        acting = self.actor(request, platform=False, need_user=True)
        group = self.query_group(request)
        self.state.mark_read(group, acting or "")
        return self.ok("success")

    async def member(self, request: web.Request) -> web.Response:
        self.actor(request, platform=False)
        if request.method == "GET":  # the Android SDK sends these as GET with a query
            body = Member(
                user_id=request.query.get("userId", ""),
                group_id=request.query.get("groupId"),
                client_group_id=request.query.get("clientGroupId"),
            )
        else:
            body = await self.body(request, Member)
        if not body.user_id:
            raise self.fail("userId is required", status=400)
        group = self.group(body.group_id, body.client_group_id)
        if request.path.endswith("/add/member"):
            self.state.add_member(group, body.user_id)
        else:
            self.state.remove_member(group, body.user_id)
        return self.ok("success")

    async def group_filter(self, request: web.Request) -> web.Response:
        self.actor(request, platform=False)
        size = self.query_int(request, "pageSize", 500) or 500
        end = self.query_int(request, "endTime", None)
        groups = sorted(
            self.state.groups.values(), key=lambda g: (-g.created_at, -g.id)
        )
        page = [g for g in groups if end is None or g.created_at < end][:size]
        last = page[-1].created_at if page else None
        return self.ok({"groups": [g.wire() for g in page], "lastFetchTime": last})

    # -- user registration and tokens -----------------------------------------------

    async def register(self, request: web.Request) -> web.Response:
        body: Register = await self.body(request, Register)
        if body.application_id != self.fake.app_id:
            return json_response({"message": "INVALID_APPLICATIONID"})
        if not body.user_id:
            return json_response({"message": "INVALID_PARAMETER"})
        known = self.state.users.get(body.user_id)
        if (
            known is not None
            and known.password is not None
            and known.password != body.password
        ):
            word = "PASSWORD_REQUIRED" if body.password is None else "PASSWORD_INVALID"
            return json_response({"message": word})
        user = self.state.ensure_user(body.user_id)
        if body.password is not None:
            user.password = body.password
        user.device_key = f"dk-{secrets.token_hex(8)}"
        now = self.state.now_ms()
        return json_response(
            {
                "message": "UPDATED"
                if known is not None
                else "REGISTERED.WITHOUTREGISTRATIONID",
                "userId": user.user_id,
                "deviceKey": user.device_key,
                "userKey": f"uk-{user.user_id}",
                "authToken": self.fake.tokens.issue(user.user_id, now_ms=now),
                "currentTimeStamp": now,
                "roleType": user.role_type,
                # sent even when the app does not encrypt (Android
                # RegisterUserClientService.java L135)
                "encryptionKey": secrets.token_urlsafe(12),
            }
        )

    async def refresh_token(self, request: web.Request) -> web.Response:
        headers = request.headers
        if headers.get("Application-Key") != self.fake.app_id:
            raise self.fail("invalid Application-Key", status=401, code="AL-UN-01")
        user = self.state.users.get(unquote(headers.get("Of-User-Id", "")))
        if (
            user is None
            or not user.device_key
            or headers.get("Device-Key") != user.device_key
        ):
            raise self.fail("invalid device key", status=401, code="AL-UN-01")
        self.fake.refreshes += 1
        return self.ok(self.fake.tokens.issue(user.user_id, now_ms=self.state.now_ms()))

    def table(self) -> list[tuple[str, str, Any]]:
        """(method, path, handler) for every endpoint."""
        return [
            ("POST", "/rest/ws/group/conversation", self.create_conversation),
            ("POST", "/rest/ws/message/v2/send", self.send_message),
            ("POST", "/rest/ws/message/sendall", self.sendall),
            ("POST", "/rest/ws/message/send", self.send_attachment),
            ("POST", "/rest/ws/upload/image", self.upload_image),
            ("POST", "/rest/ws/upload/file", self.upload_file),
            ("GET", "/rest/ws/file/url", self.file_url),
            ("GET", "/rest/ws/aws/file/{blob_key}", self.download_file),
            ("POST", "/rest/ws/user/v2/detail", self.user_detail),
            ("POST", "/rest/ws/user/update", self.update_user),
            ("PATCH", "/rest/ws/group/assignee/change", self.change_assignee),
            ("PATCH", "/rest/ws/group/status/change", self.change_status),
            ("GET", "/rest/ws/group/info", self.group_info),
            ("GET", "/rest/ws/group/v2/info", self.group_info),
            ("POST", "/rest/ws/group/update", self.update_group),
            ("GET", "/rest/ws/message/list", self.message_list),
            ("GET", "/rest/ws/message/read/conversation", self.mark_read),
            ("POST", "/rest/ws/group/add/member", self.member),
            ("GET", "/rest/ws/group/add/member", self.member),
            ("POST", "/rest/ws/group/remove/member", self.member),
            ("GET", "/rest/ws/group/remove/member", self.member),
            ("GET", "/rest/ws/group/filter", self.group_filter),
            ("POST", "/rest/ws/register/client", self.register),
            ("POST", "/rest/ws/register/refresh/token", self.refresh_token),
            *MoreRoutes(self).table(),  # agents, hours, CSAT, lifecycle, inbox
        ]
