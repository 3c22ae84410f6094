"""docs/guides/many-workers.md "Campaigns on Temporal": the block runs as written, against a worker."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import pytest

from kommunicate_async import OutgoingMessage
from kommunicate_async.testing import FakeKommunicate

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from temporalio.client import Client

pytestmark = pytest.mark.temporal

ROOT = Path(__file__).resolve().parents[2]


def readme_block() -> str:
    guide = (ROOT / "docs" / "guides" / "many-workers.md").read_text()
    found = re.search(r"# Campaigns on Temporal\n.*?```python\n(.*?)```", guide, re.S)
    assert found is not None
    return found.group(1)


def test_the_block_is_short() -> None:
    lines = [line for line in readme_block().splitlines() if line.strip()]
    assert len(lines) < 20


async def test_the_block_runs_as_written(
    temporal_client: Client, temporal_address: str, redis: Redis, tmp_path: Path
) -> None:
    from kommunicate_async.scaleout.temporal import campaign_worker

    async with FakeKommunicate() as fake, fake.session() as km:
        chat = (await km.conversations.create(["u"])).id
        (tmp_path / "campaign.jsonl").write_bytes(
            b"".join(
                msgspec.json.encode(OutgoingMessage(chat, f"sale {i}")) + b"\n"
                for i in range(50)
            )
        )
        async with campaign_worker(temporal_client, km, redis):  # the default queue
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                readme_block(),
                cwd=tmp_path,
                env={**os.environ, "TEMPORAL_ADDRESS": temporal_address},
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(proc.communicate(), 120)
        assert proc.returncode == 0, err.decode()
        assert out.decode().splitlines()[-1].split() == ["50", "0", "0", "0"]
        assert "CampaignProgress(" in out.decode()
        keys = Counter(m.metadata["kmDedupeKey"] for m in fake.messages(chat))
        assert len(keys) == 50 and set(keys.values()) == {1}
