"""User registration (login) and token refresh bodies (docs/wire.md#users)."""

from __future__ import annotations

from enum import IntEnum

from ._base import UNSET, Model, UnsetType

__all__ = ["AuthenticationType", "RefreshTokenBody", "RegisterBody", "Registration"]

WEB_DEVICE = 0
"""`deviceType` 0 is "web": the only kind a server-side client can honestly claim."""
PASSWORD_CHECKED_BY_KOMMUNICATE = 1
"""`authenticationTypeId` 1: Kommunicate checks the password (the SDK default)."""


class AuthenticationType(IntEnum):
    """`authenticationTypeId` of a login (the Android SDK's User.AuthenticationType)."""

    CLIENT = 0
    """Your server checks the password: apps with an "Access Token URL"."""
    KOMMUNICATE = 1
    """Kommunicate checks the password (the SDKs' default)."""
    FACEBOOK = 2


class RegisterBody(Model, frozen=True, kw_only=True):
    """`POST /rest/ws/register/client` (docs/wire.md#users)."""

    user_id: str
    application_id: str
    # Required, never defaulted: `omit_defaults` would drop a value equal to a default.
    device_type: int
    authentication_type_id: int
    password: str | UnsetType = UNSET
    display_name: str | UnsetType = UNSET
    email: str | UnsetType = UNSET


class Registration(Model, frozen=True, kw_only=True):
    """The RegistrationResponse fields we use; the rest is skipped."""

    message: str | None = None
    user_id: str | None = None
    device_key: str | None = None
    auth_token: str | None = None
    encryption_key: str | None = None
    user_encryption_key: str | None = None
    enable_encryption: bool | None = None

    @property
    def encrypted(self) -> bool:
        """The app has encryption on: later replies would be AES bodies."""
        return bool(
            self.encryption_key or self.user_encryption_key or self.enable_encryption
        )


class RefreshTokenBody(Model, frozen=True, kw_only=True):
    """`POST /rest/ws/register/refresh/token` (docs/wire.md#users)."""

    application_id: str
    user_id: str
