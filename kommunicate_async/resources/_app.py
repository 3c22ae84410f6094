"""What the app-server resources share: the app id they put in paths and queries."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._errors import ConfigurationError

if TYPE_CHECKING:
    from ._base import Context

__all__ = ["require_app_id"]


def require_app_id(ctx: Context, what: str) -> str:
    """The session's app id, or a clear `ConfigurationError` before any request."""
    app_id = ctx.client.config.app_id
    if not app_id:
        raise ConfigurationError(
            f"{what} needs the app id: pass app_id= or set KOMMUNICATE_APP_ID"
        )
    return app_id
