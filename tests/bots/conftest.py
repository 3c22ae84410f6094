"""Bot tests: the root's `fake` and `session`, configured here: the fake's rules
hand a conversation to agent@acme.io, the session makes no retries."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def kommunicate_fake_options() -> dict[str, Any]:
    """A handoff to "the rules" lands on agent@acme.io."""
    return {"routing_agent": "agent@acme.io"}


@pytest.fixture
def kommunicate_session_options() -> dict[str, Any]:
    return {"max_retries": 0}
