"""User registration (login) and token refresh bodies (docs/wire.md#users)."""

from __future__ import annotations

from enum import IntEnum

from ._base import UNSET, Model, UnsetType

__all__ = ["AuthenticationType", "RefreshTokenBody", "RegisterBody", "Registration"]

WEB_DEVICE = 0  # kept for importers; login now sends 1 (docs/wire.md#users)
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
    app_version_code: int
    """113, as the Android and iOS SDKs send (docs/wire.md#users)."""
    enable_encryption: bool
    """False: the server then sends an `encryptionKey` but does not encrypt
    (Android RegisterUserClientService.java L135)."""
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
        """The server says it encrypts. An `encryptionKey` alone does not mean it:
        "If encryption is not enabled from user, then server sends encryption key but
        does not perform encryption" (Android RegisterUserClientService.java L135).
        A real AES body is caught when it arrives (docs/wire.md#users)."""
        return self.enable_encryption is True


class RefreshTokenBody(Model, frozen=True, kw_only=True):
    """`POST /rest/ws/register/refresh/token` (docs/wire.md#users)."""

    application_id: str
    user_id: str
