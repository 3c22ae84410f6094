"""The `kommunicate_async` logger, and `KOMMUNICATE_LOG` to turn it on without code.

DEBUG: one line per HTTP request (method, path, status, attempt, milliseconds, the
acting user). INFO: retries. WARNING: a call that gave up. No line ever holds a key,
a token, a password or a body: paths carry no query and ids are not secrets.
"""

from __future__ import annotations

import logging
import os
from typing import Final

__all__ = ["ENV_LOG", "log", "setup_from_env"]

ENV_LOG: Final = "KOMMUNICATE_LOG"
log: Final = logging.getLogger("kommunicate_async")
_LEVELS: Final = {"debug": logging.DEBUG, "info": logging.INFO}
_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_from_env(value: str | None = None) -> None:
    """Log to stderr at `KOMMUNICATE_LOG`'s level ("debug" or "info"), once.

    Does nothing when the variable is unset or the application has already given
    the logger a handler of its own.
    """
    level = _LEVELS.get(
        (os.environ.get(ENV_LOG, "") if value is None else value).lower()
    )
    if level is None:
        return
    log.setLevel(level)
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(_FORMAT))
        log.addHandler(handler)
