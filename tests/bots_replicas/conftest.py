"""Redis for the replica tests: the one .ci/run started (`REDIS_URL`), else our own."""

from __future__ import annotations

from tests.scaleout.conftest import redis_url

__all__ = ["redis_url"]
