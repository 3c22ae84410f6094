"""Users, agents and bots as `user/v2/detail` returns them, and the update body."""

from __future__ import annotations

import msgspec

from ._base import UNSET, Model, UnsetType, WireMetadata, normalize_metadata

__all__ = ["LoginResult", "UpdateUserBody", "User", "UserDetailBody"]


class User(Model, frozen=True, kw_only=True):
    """A user, agent or bot (docs/wire.md#users item fields)."""

    user_id: str
    display_name: str | None = None
    user_name: str | None = None
    email: str | None = None
    unread_count: int = 0
    """Total unread messages of this user across all conversations."""
    image_link: str | None = None
    phone_number: str | None = None
    connected: bool | None = None
    deactivated: bool = False
    role_type: int | None = None
    metadata: WireMetadata = msgspec.field(default_factory=dict[str, str])
    created_at: int | None = msgspec.field(default=None, name="createdAtTime")
    last_seen_at: int | None = msgspec.field(default=None, name="lastSeenAtTime")
    last_message_at: int | None = msgspec.field(default=None, name="lastMessageAtTime")

    def __post_init__(self) -> None:
        normalize_metadata(self)

    @property
    def name(self) -> str | None:
        """The best name to show: display name, else user name."""
        return self.display_name or self.user_name


class UserDetailBody(Model, frozen=True, kw_only=True):
    """`POST /rest/ws/user/v2/detail` (docs/wire.md#users)."""

    user_id_list: list[str]


class UpdateUserBody(Model, frozen=True, kw_only=True):
    """`POST /rest/ws/user/update` (docs/wire.md#users); unset fields stay unchanged."""

    display_name: str | UnsetType = UNSET
    email: str | UnsetType = UNSET
    image_link: str | UnsetType = UNSET
    metadata: dict[str, str] | UnsetType = UNSET


class LoginResult(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of `km.users.login()`; the token itself stays inside the session.

    Attributes:
        user_id: the user now logged in.
        registration: the server's word: REGISTERED, UPDATED, …
        expires_at: token expiry in epoch seconds, None if the token says nothing.
    """

    user_id: str
    registration: str
    expires_at: float | None
