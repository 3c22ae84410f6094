"""docs/guides/many-replicas.md: every Python block runs as written against
FakeKommunicate (and a redis-server of the test's own)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest

from kommunicate_async.testing import FakeKommunicate

if TYPE_CHECKING:
    from kommunicate_async.bots import BotApp, BotContext, BotRequest
    from tests.scaleout.conftest import RedisProcess

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guides" / "many-replicas.md"
BLOCKS = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), re.S)


def test_the_guide_has_its_examples() -> None:
    assert len(BLOCKS) == 7
    assert all("async def example(fake, redis_url)" in block for block in BLOCKS)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
async def test_guide_block_runs(index: int, redis_server: RedisProcess) -> None:
    namespace: dict[str, Any] = {}
    exec(
        compile(BLOCKS[index], f"many-replicas.md block {index + 1}", "exec"), namespace
    )
    async with FakeKommunicate() as fake:
        await namespace["example"](fake, redis_server.url)


async def test_the_readme_many_replicas_block_runs(redis_server: RedisProcess) -> None:
    import msgspec
    from redis.asyncio import Redis

    readme = (GUIDE.parents[2] / "README.md").read_text()
    found = re.search(r"### Many replicas\n.*?```python\n(.*?)```", readme, re.S)
    assert found is not None
    namespace: dict[str, Any] = {}
    exec(compile(found.group(1), "README.md", "exec"), namespace)
    redis = Redis.from_url(redis_server.url)
    async with FakeKommunicate() as fake, fake.session() as km:
        a, b = (
            cast("BotApp", namespace["replica"](km, redis, "s3cret")) for _ in range(2)
        )

        async def answer(request: BotRequest, ctx: BotContext) -> str:
            turns = await ctx.state.update(
                "turns", lambda n: n + 1, type=int, default=0
            )
            return f"turn {turns}"

        a.on_message(answer)
        b.on_message(answer)

        headers = {"X-Bot-Token": "s3cret"}
        one = msgspec.json.encode({"key": "r1", "groupId": 4, "message": "x"})
        two = msgspec.json.encode({"key": "r2", "groupId": 4, "message": "y"})
        assert (await a.handle("bot", headers, one)).body == b'[{"message":"turn 1"}]'
        assert (await b.handle("bot", headers, one)).body == b'[{"message":"turn 1"}]'
        assert (await b.handle("bot", headers, two)).body == b'[{"message":"turn 2"}]'
    await redis.aclose()
