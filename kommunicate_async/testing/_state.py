"""The fake's in-memory world: users, conversations, messages and unread counters."""

from __future__ import annotations

import itertools
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FakeFile", "FakeGroup", "FakeMessage", "FakeState", "FakeUser"]

_ROLE_USER = 3
_ROLE_BOT = 1


@dataclass
class FakeUser:
    """A user, agent or bot known to the fake."""

    user_id: str
    display_name: str | None = None
    email: str | None = None
    image_link: str | None = None
    metadata: dict[str, str] = field(default_factory=dict[str, str])
    password: str | None = None
    role_type: int = _ROLE_USER
    created_at: int = 0
    device_key: str | None = None

    def wire(self, unread: int) -> dict[str, Any]:
        """The user as `user/v2/detail` returns it."""
        out: dict[str, Any] = {
            "userId": self.user_id,
            "userName": self.user_id,
            "unreadCount": unread,
            "connected": False,
            "deactivated": False,
            "roleType": self.role_type,
            "createdAtTime": self.created_at,
            "metadata": self.metadata,
        }
        optional = {
            "displayName": self.display_name,
            "email": self.email,
            "imageLink": self.image_link,
        }
        out.update(
            {name: value for name, value in optional.items() if value is not None}
        )
        return out


@dataclass
class FakeGroup:
    """A conversation (an Applozic group of type 10)."""

    id: int
    client_group_id: str
    name: str
    admin_id: str
    members: list[str]
    metadata: dict[str, str]
    created_at: int
    updated_at: int

    def wire(self, unread: int | None = None) -> dict[str, Any]:
        """The group as `group/info` and `group/conversation` return it."""
        out: dict[str, Any] = {
            "id": self.id,
            "clientGroupId": self.client_group_id,
            "name": self.name,
            "adminId": self.admin_id,
            "membersId": list(self.members),
            "userCount": len(self.members),
            "type": 10,
            "metadata": dict(self.metadata),
            "createdAtTime": self.created_at,
            "updatedAtTime": self.updated_at,
        }
        if unread is not None:
            out["unreadCount"] = unread
        return out


@dataclass(slots=True)
class FakeMessage:
    """One stored message."""

    key: str
    group_id: int
    client_group_id: str
    sender: str
    text: str
    created_at: int
    metadata: dict[str, str]
    content_type: int = 0
    file_meta: dict[str, Any] | None = None

    def wire(self, viewer: str | None) -> dict[str, Any]:
        """The message as `message/list` returns it, seen by `viewer`."""
        out: dict[str, Any] = {
            "key": self.key,
            "groupId": self.group_id,
            "clientGroupId": self.client_group_id,
            "message": self.text,
            "createdAtTime": self.created_at,
            "contactIds": self.sender,
            "to": self.sender,
            "type": 5 if viewer == self.sender else 4,
            "contentType": self.content_type,
            "status": 3,
            "metadata": self.metadata,
        }
        if self.file_meta is not None:
            out["fileMeta"] = self.file_meta
        return out


@dataclass(frozen=True, slots=True)
class FakeFile:
    """One uploaded file."""

    blob_key: str
    name: str
    content_type: str
    data: bytes
    uploaded_by: str | None

    created_at: int = 0

    def meta(self, base_url: str) -> dict[str, Any]:
        """The bare fileMeta `upload/image` returns (Android FileMeta.java fields)."""
        return {
            "key": f"key-{self.blob_key}",
            "userKey": f"uk-{self.uploaded_by or ''}",
            "blobKey": self.blob_key,
            "thumbnailBlobKey": f"thumb-{self.blob_key}",
            "name": self.name,
            "url": f"{base_url}/rest/ws/aws/file/{self.blob_key}",
            "size": len(self.data),
            "contentType": self.content_type,
            "createdAtTime": self.created_at,
        }


class FakeState:
    """Everything the fake knows. Not thread-safe: it lives in one event loop."""

    def __init__(self, *, keep_messages: int | None = None) -> None:
        self.users: dict[str, FakeUser] = {}
        self.groups: dict[int, FakeGroup] = {}
        self.by_client_id: dict[str, int] = {}
        self.messages: dict[int, deque[FakeMessage]] = {}
        self.unread: dict[str, dict[int, int]] = {}
        self.busy_agents: set[str] = set()
        """Agents at their limit: assigning them answers AGENT_IS_ALREADY_ENGAGED."""
        self.bots: set[str] = {"bot"}
        """User ids treated as bots (removed by `takeOverFromBot`)."""
        self.keep_messages = keep_messages
        self.files: dict[str, FakeFile] = {}
        """Uploaded files by blobKey."""
        self.message_count = 0
        self._group_ids = itertools.count(10_000_001)
        self._last_ms = 0
        self.clock_skew_ms = 0
        """Added to the wall clock: the fake's own clock error."""

    def now_ms(self) -> int:
        """Wall-clock milliseconds that never go backwards (several may be equal)."""
        now = int(time.time() * 1000) + self.clock_skew_ms
        if now < self._last_ms:
            now = self._last_ms
        self._last_ms = now
        return now

    # -- users --------------------------------------------------------------------

    def ensure_user(self, user_id: str) -> FakeUser:
        """The user, created on first mention (as a conversation create does)."""
        user = self.users.get(user_id)
        if user is None:
            role = _ROLE_BOT if user_id in self.bots else _ROLE_USER
            user = self.users[user_id] = FakeUser(
                user_id, role_type=role, created_at=self.now_ms()
            )
        return user

    def unread_total(self, user_id: str) -> int:
        """The user's unread messages across all conversations."""
        return sum(self.unread.get(user_id, {}).values())

    # -- conversations --------------------------------------------------------------

    def find_group(
        self, group_id: int | None, client_group_id: str | None
    ) -> FakeGroup | None:
        """A group by numeric id or client id."""
        if group_id is not None:
            return self.groups.get(group_id)
        if client_group_id is not None:
            found = self.by_client_id.get(client_group_id)
            return None if found is None else self.groups.get(found)
        return None

    def create_group(
        self,
        *,
        name: str,
        members: list[str],
        client_group_id: str | None,
        metadata: dict[str, str],
        admin_id: str,
    ) -> FakeGroup:
        """A new group; its members become users if they were not."""
        group_id = next(self._group_ids)
        now = self.now_ms()
        for member in members:
            self.ensure_user(member)
        meta = {"CONVERSATION_STATUS": "0", **metadata}
        group = FakeGroup(
            id=group_id,
            client_group_id=client_group_id or str(group_id),
            name=name,
            admin_id=admin_id,
            members=list(dict.fromkeys(members)),
            metadata=meta,
            created_at=now,
            updated_at=now,
        )
        self.groups[group_id] = group
        self.by_client_id[group.client_group_id] = group_id
        self.messages[group_id] = deque(maxlen=self.keep_messages)
        return group

    def add_member(self, group: FakeGroup, user_id: str) -> None:
        """Add `user_id` to `group` (no-op if present)."""
        self.ensure_user(user_id)
        if user_id not in group.members:
            group.members.append(user_id)
            group.updated_at = self.now_ms()

    def remove_member(self, group: FakeGroup, user_id: str) -> None:
        """Remove `user_id` from `group` (no-op if absent)."""
        if user_id in group.members:
            group.members.remove(user_id)
            group.updated_at = self.now_ms()

    # -- messages ---------------------------------------------------------------------

    def send(
        self,
        group: FakeGroup,
        sender: str,
        text: str,
        metadata: dict[str, str],
        *,
        content_type: int = 0,
        file_meta: dict[str, Any] | None = None,
    ) -> FakeMessage:
        """Store a message and raise every other member's unread count."""
        now = self.now_ms()
        message = FakeMessage(
            key=f"5-{secrets.token_hex(8)}-{now}",
            group_id=group.id,
            client_group_id=group.client_group_id,
            sender=sender,
            text=text,
            created_at=now,
            metadata=metadata,
            content_type=content_type,
            file_meta=file_meta,
        )
        self.messages[group.id].append(message)
        self.message_count += 1
        for member in group.members:
            if member != sender:
                counts = self.unread.setdefault(member, {})
                counts[group.id] = counts.get(group.id, 0) + 1
        return message

    def mark_read(self, group: FakeGroup, user_id: str) -> None:
        """Reset `user_id`'s unread count for `group`."""
        self.unread.get(user_id, {}).pop(group.id, None)

    def page(
        self, group: FakeGroup, *, end_time: int | None, start: int, size: int
    ) -> list[FakeMessage]:
        """Newest first, `createdAtTime < end_time` (exclusive, as the SDKs expect)."""
        stored = self.messages.get(group.id, deque[FakeMessage]())
        older = [
            m for m in reversed(stored) if end_time is None or m.created_at < end_time
        ]
        return older[start : start + size]
