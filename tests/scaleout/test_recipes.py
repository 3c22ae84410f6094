"""The many-workers guide's block and the examples' recipes, run as written."""

from __future__ import annotations

import importlib
import re
import types
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from kommunicate_async import OutgoingMessage
from kommunicate_async.testing import FakeKommunicate

if TYPE_CHECKING:
    import pytest
    from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parents[2]


def readme_block() -> str:
    guide = (ROOT / "docs" / "guides" / "many-workers.md").read_text()
    found = re.search(
        r"# Many workers, one campaign\n.*?```python\n(.*?)```", guide, re.S
    )
    assert found is not None
    return found.group(1)


def test_the_readme_block_is_short() -> None:
    lines = [line for line in readme_block().splitlines() if line.strip()]
    assert len(lines) < 20


async def test_the_readme_block_runs_as_written(
    redis: Redis, campaign: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = types.ModuleType("worker")
    exec(compile(readme_block(), "README.md", "exec"), worker.__dict__)
    async with FakeKommunicate() as fake:
        for name, value in {
            "KOMMUNICATE_API_KEY": fake.api_key,
            "KOMMUNICATE_BASE_URL": fake.url,
            "KOMMUNICATE_CHAT_URL": fake.url,
        }.items():
            monkeypatch.setenv(name, value)
        async with fake.session() as km:
            cid = (await km.conversations.create(["u"])).id
        path = tmp_path / "campaign.jsonl"
        path.write_bytes(
            b"".join(
                msgspec.json.encode(OutgoingMessage(cid, f"m{i}")) + b"\n"
                for i in range(30)
            )
        )
        ctx = {"redis": redis}
        delivered = [
            await worker.send_shard(ctx, str(path), campaign, k, 3) for k in range(3)
        ]
        again = await worker.send_shard(ctx, str(path), campaign, 0, 1)
        assert sum(delivered) == 30 and again == 0
        assert len(fake.messages(cid)) == 30


def test_the_examples_import_and_wire_the_shared_parts() -> None:
    arq_recipe = importlib.import_module("examples.arq_campaign")
    assert [f.name for f in arq_recipe.WorkerSettings.functions] == ["send_shard"]
    celery_recipe = importlib.import_module("examples.celery_campaign")
    assert callable(celery_recipe.send_shard) and callable(celery_recipe.deliver)
    source = (ROOT / "examples" / "celery_campaign.py").read_text()
    assert "RedisRateLimit" in source and "RedisBatchStore" in source
