"""SIGKILLed runs, rerun on the same checkpoint: 0 lost, 0 duplicates, with the
server's clock 10 s behind and slow commits in flight at every kill (issue #10)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from typing import TYPE_CHECKING

import anyio
import pytest

from kommunicate_async.testing import FakeKommunicate
from tests.durability.conftest import stored

if TYPE_CHECKING:
    from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ITEMS = 300
KILLS = 3

_CHILD = """
import asyncio, sys
from kommunicate_async import KommunicateSession, OutgoingMessage, Timeouts

async def main():
    url, key, cid, path = sys.argv[1:5]
    km = KommunicateSession(key, base_url=url, chat_url=url,
                            timeout=Timeouts(connect=2, attempt=5, total=30))
    async with km:
        items = [OutgoingMessage(int(cid), f"m{i}") for i in range(ITEMS)]
        report = await km.messages.send_many(
            items, checkpoint=path, reconcile=True, concurrency=8, settle=0.3
        )
        print("done", report.delivered, report.skipped, report.ambiguous, flush=True)

asyncio.run(main())
"""


async def _child(
    fake: FakeKommunicate, cid: int, path: Path
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        textwrap.dedent(_CHILD.replace("ITEMS", str(ITEMS))),
        fake.url,
        fake.api_key,
        str(cid),
        str(path),
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )


@pytest.mark.slow
async def test_killed_runs_resume_with_nothing_lost_or_doubled(tmp_path: Path) -> None:
    path = tmp_path / "cp.jsonl"
    async with FakeKommunicate(clock_skew_ms=-10_000, commit_delay=0.05) as fake:
        async with fake.session() as km:
            cid = (await km.conversations.create(["u"])).id
        for kill in range(1, KILLS + 1):
            child = await _child(fake, cid, path)
            with anyio.fail_after(60):
                while len(fake.messages(cid)) < kill * ITEMS // (KILLS + 1):  # noqa: ASYNC110
                    await asyncio.sleep(0.005)
            os.kill(child.pid, signal.SIGKILL)  # mid-flight: 8 sends in the air
            await child.wait()
        child = await _child(fake, cid, path)
        assert child.stdout is not None
        with anyio.fail_after(60):
            out = (await child.stdout.read()).decode().split()
        await child.wait()
        keys = stored(fake, [cid])
    assert out[0] == "done" and out[3] == "0"  # no item left ambiguous
    assert len(keys) == ITEMS  # 0 lost
    assert set(keys.values()) == {1}  # 0 duplicates
