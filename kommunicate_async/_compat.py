"""Back-ports for Python 3.11."""

from __future__ import annotations

import sys

if sys.version_info >= (3, 12):
    from typing import Unpack, override
else:  # anyio already depends on typing_extensions there
    from typing_extensions import Unpack, override

__all__ = ["Unpack", "override"]
