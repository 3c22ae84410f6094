"""docs/guides/many-replicas.md: every Python block runs as written against
FakeKommunicate (and a redis-server of the test's own)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from kommunicate_async.testing import FakeKommunicate

if TYPE_CHECKING:
    from tests.scaleout.conftest import RedisProcess

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guides" / "many-replicas.md"
BLOCKS = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), re.S)


def test_the_guide_has_its_examples() -> None:
    assert len(BLOCKS) == 6
    assert all("async def example(fake, redis_url)" in block for block in BLOCKS)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
async def test_guide_block_runs(index: int, redis_server: RedisProcess) -> None:
    namespace: dict[str, Any] = {}
    exec(compile(BLOCKS[index], f"many-replicas.md block {index + 1}", "exec"), namespace)
    async with FakeKommunicate() as fake:
        await namespace["example"](fake, redis_server.url)
