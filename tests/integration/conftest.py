"""Loopback tests: the root's `fake` and `session` (no mocking), with bounded
timeouts and short back-offs."""

from __future__ import annotations

from typing import Any

import pytest

from kommunicate_async import Retries, Timeouts


@pytest.fixture
def kommunicate_session_options() -> dict[str, Any]:
    return {
        "timeout": Timeouts(connect=2, attempt=5, total=10),
        "retries": Retries(backoff_base=0.01),
    }
