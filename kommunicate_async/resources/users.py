"""`km.users`: user details, profile updates, and user login (tokens)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Literal

from .._codec import encode
from .._errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    InvalidRequestError,
    NotFoundError,
    ResponseValidationError,
)
from .._metadata import stringify_metadata
from .._pipeline.reply import NoResult
from .._pipeline.routing import Host, Route
from .._validate import check_header_value, check_id, check_ids, check_int
from ..models._base import UNSET
from ..models.auth import AuthenticationType, RegisterBody, Registration
from ..models.user import LoginResult, UpdateUserBody, User, UserDetailBody
from ._base import Context, Resource
from ._lifecycle import block_user, create_user

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from .._pipeline.call_state import Deadline

__all__ = ["Users", "fetch_users"]

DETAIL: Final = Route("POST", "/rest/ws/user/v2/detail")
UPDATE: Final = Route("POST", "/rest/ws/user/update")
REGISTER: Final = Route("POST", "/rest/ws/register/client", Host.CHAT_PUBLIC)

_REGISTERED: Final = frozenset(
    {"REGISTERED", "REGISTERED.WITHOUTREGISTRATIONID", "UPDATED"}
)
_BAD_CREDENTIALS: Final = frozenset(
    {"PASSWORD_INVALID", "PASSWORD_REQUIRED", "INVALID_APPLICATIONID"}
)
# docs/wire.md#users: the SDKs send deviceType 1 (Android) or 4 (iOS), the only values
# documented; appVersionCode 113 is what the Android and iOS SDKs send.
ANDROID_DEVICE: Final = 1
APP_VERSION_CODE: Final = 113


async def fetch_users(
    ctx: Context, user_ids: list[str], *, deadline: Deadline | None = None
) -> list[User]:
    """`POST user/v2/detail` for `user_ids` in one request (envelope or bare array)."""
    body = encode(UserDetailBody(user_id_list=user_ids))
    users = await ctx.client.call(
        DETAIL, list[User], empty=True, body=body, deadline=deadline
    )
    return users or []


def _check_login(
    user_id: str, password: str | None, authentication_type: object
) -> None:
    check_header_value(user_id, "user_id")
    if password is not None and not isinstance(password, str):
        raise InvalidRequestError("password must be a str")
    if isinstance(authentication_type, bool) or authentication_type not in set(
        AuthenticationType
    ):
        raise InvalidRequestError(
            "authentication_type must be an AuthenticationType (0, 1 or 2)"
        )


def _credentials(reg: Registration, word: str, user_id: str) -> tuple[str, str]:
    """(token, device key) of a login reply, or the error it means; `word` is its
    (redacted) registration message."""
    if reg.encrypted:
        raise ConfigurationError(
            "this Kommunicate app has encryption on: its replies are AES-encrypted "
            "and kommunicate_async cannot read them; turn encryption off for the "
            "app, or act for users with Api-Key (on_behalf_of=) instead of login"
        )
    if word.upper() in _BAD_CREDENTIALS:
        raise AuthenticationError(200, word, f"login of {user_id!r} refused: {word}")
    if not reg.auth_token or not reg.device_key:
        if word and word.upper() not in _REGISTERED:
            raise APIError(200, word, f"login of {user_id!r} failed: {word}")
        raise ResponseValidationError(
            f"login of {user_id!r} answered {word or 'success'} without an "
            "authToken (a JWT) or deviceKey: this server predates token "
            "logins; act for the user with on_behalf_of= instead",
            status=200,
        )
    return reg.auth_token, reg.device_key


class Users(Resource):
    """Users, agents and bots (docs/wire.md#users)."""

    __slots__ = ()

    async def get(self, user_id: str) -> User:
        """One user's details.

        Raises:
            NotFoundError: the server returned no such user.
        """
        check_id(user_id, "user_id")
        for user in await fetch_users(self._ctx, [user_id]):
            if user.user_id == user_id:
                return user
        raise NotFoundError(200, None, f"user {user_id!r} not found")

    async def get_many(self, user_ids: str | Iterable[str]) -> list[User]:
        """Details of several users in one request; unknown ids are simply absent."""
        return await fetch_users(self._ctx, check_ids(user_ids, "user_ids"))

    async def update(
        self,
        user_id: str,
        *,
        display_name: str | None = None,
        email: str | None = None,
        image_link: str | None = None,
        metadata: Mapping[str, object] | None = None,
    ) -> None:
        """Update an end user's profile (`POST user/update`, `Of-User-Id` = the user).

        Only the fields given are sent. Kommunicate updates end users only; agent
        profiles cannot be changed this way (docs/wire.md#users).
        """
        acting = check_header_value(user_id, "user_id")
        fields = {
            "display_name": display_name,
            "email": email,
            "image_link": image_link,
        }
        for name, value in fields.items():
            if value is not None:
                check_id(value, name)
        if metadata is None and all(v is None for v in fields.values()):
            raise InvalidRequestError("update needs at least one field to change")
        body = UpdateUserBody(
            display_name=UNSET if display_name is None else display_name,
            email=UNSET if email is None else email,
            image_link=UNSET if image_link is None else image_link,
            metadata=UNSET if metadata is None else stringify_metadata(metadata),
        )
        await self._ctx.client.call(
            UPDATE, NoResult, empty=True, body=encode(body), acting_as=acting
        )

    async def login(
        self,
        user_id: str,
        *,
        password: str | None = None,
        authentication_type: AuthenticationType | int = AuthenticationType.KOMMUNICATE,
        device_type: int = ANDROID_DEVICE,
    ) -> LoginResult:
        """Register or log in a user (`POST register/client` on the chat host).

        The session keeps the user's token and device key (never shown), refreshes
        the token before it expires, and uses it for calls made on behalf of this
        user on the chat host. Needs `app_id`.

        Args:
            user_id: the user to log in.
            password: the password (or, with `AuthenticationType.CLIENT`, the
                access token your own "Access Token URL" endpoint checks).
            authentication_type: `KOMMUNICATE` (1, the SDKs' default) or `CLIENT`
                (0) for apps that use an Access Token URL.
            device_type: `deviceType` (1: Android, the default; 4: iOS): the only
                values Kommunicate documents.

        Raises:
            ConfigurationError: the session has no app id, or the server says it
                encrypts (`enableEncryption: true` in the reply; a later AES body
                raises it too).
            AuthenticationError: wrong or missing password, or a bad app id.
            ResponseValidationError: the reply's token or device key is unusable.
        """
        client = self._ctx.client
        app_id = client.config.app_id
        if not app_id:
            raise ConfigurationError(
                "users.login needs the app id: pass app_id= or set KOMMUNICATE_APP_ID"
            )
        _check_login(user_id, password, authentication_type)
        check_int(device_type, "device_type", minimum=0)
        client.transport.secrets.add(password, lasting=False)
        body = RegisterBody(
            user_id=user_id,
            application_id=app_id,
            device_type=device_type,
            authentication_type_id=int(authentication_type),
            app_version_code=APP_VERSION_CODE,
            enable_encryption=False,
            password=UNSET if password is None else password,
        )
        reg = await client.call(
            REGISTER,
            Registration,
            body=encode(body),
            headers=client.targets.public_headers(),
        )
        word = client.transport.secrets.redact(reg.message or "")
        token, device_key = _credentials(reg, word, user_id)
        cred = client.tokens.put(user_id, device_key=device_key, token=token)
        return LoginResult(
            user_id=user_id, registration=word, expires_at=cred.expires_at
        )

    async def create(
        self,
        user_id: str,
        *,
        role: Literal["USER", "BOT"] = "USER",
        password: str | None = None,
        display_name: str | None = None,
        email: str | None = None,
        image_link: str | None = None,
    ) -> None:
        """Create a user or a bot (`POST user/v2/create`, admin credentials:
        `chat_auth=ChatAuth.admin(...)`; on Kommunicate UNCERTAIN). A bot needs
        a password."""
        await create_user(
            self._ctx,
            user_id,
            role=role,
            password=password,
            display_name=display_name,
            email=email,
            image_link=image_link,
        )

    async def block(self, user_id: str, *, on_behalf_of: str | None = None) -> None:
        """Block `user_id` for the acting user (`GET user/block?userId=`)."""
        await block_user(
            self._ctx, user_id, block=True, acting=self._ctx.acting(on_behalf_of)
        )

    async def unblock(self, user_id: str, *, on_behalf_of: str | None = None) -> None:
        """Unblock `user_id` for the acting user (`GET user/unblock?userId=`)."""
        await block_user(
            self._ctx, user_id, block=False, acting=self._ctx.acting(on_behalf_of)
        )

    def logout(self, user_id: str) -> None:
        """Forget a user's token; their calls go back to `Api-Key` + `Of-User-Id`."""
        self._ctx.client.tokens.forget(user_id)
