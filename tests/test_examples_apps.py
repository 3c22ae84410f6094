"""examples/: the quick start, a bulk send and a FastAPI app, run against the fake."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
import pytest

from examples import fastapi_app
from kommunicate_async.testing._bot_server import serve_asgi

if TYPE_CHECKING:
    from kommunicate_async.testing import FakeKommunicate

ROOT = Path(__file__).resolve().parent.parent


def run_example(*argv: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *argv], capture_output=True, text=True, timeout=120, cwd=cwd
    )


@pytest.mark.slow
def test_quick_start(threaded_fake: FakeKommunicate) -> None:
    done = run_example(str(ROOT / "examples" / "quick_start.py"))
    assert done.returncode == 0, done.stderr
    group_id, key, outcome, unread = done.stdout.split()
    assert (outcome, unread) == ("UPDATED", "1")
    assert threaded_fake.messages(int(group_id))[0].key == key


@pytest.mark.slow
def test_bulk_send_csv_then_resume(
    threaded_fake: FakeKommunicate, tmp_path: Path
) -> None:
    for cid in ("c1", "c2"):
        threaded_fake.state.create_group(
            name=cid, members=["u"], client_group_id=cid, metadata={}, admin_id="bot"
        )
    campaign = tmp_path / "campaign.csv"
    rows = ["conversation,text"] + [f"c{1 + i % 2},hello {i}" for i in range(10)]
    campaign.write_text("\n".join([*rows, "nowhere,lost"]) + "\n")
    script = str(ROOT / "examples" / "bulk_send.py")
    first = run_example(script, str(campaign))
    assert first.returncode == 5, first.stderr  # one row names no conversation
    assert "10 delivered, 1 failed, 0 ambiguous, 0 skipped" in first.stdout
    assert "item 11: failed: " in first.stdout
    again = run_example(script, str(campaign))
    assert "0 delivered, 1 failed, 0 ambiguous, 10 skipped" in again.stdout
    assert len(threaded_fake.messages("c1")) + len(threaded_fake.messages("c2")) == 10


@pytest.mark.slow
def test_bulk_send_jsonl(threaded_fake: FakeKommunicate, tmp_path: Path) -> None:
    threaded_fake.state.create_group(
        name="c", members=["u"], client_group_id="c", metadata={}, admin_id="bot"
    )
    campaign = tmp_path / "campaign.jsonl"
    campaign.write_text('{"conversation": "c", "text": "hi", "metadata": {"n": 1}}\n')
    done = run_example(str(ROOT / "examples" / "bulk_send.py"), str(campaign))
    assert done.returncode == 0, done.stderr
    assert threaded_fake.messages("c")[0].metadata["n"] == "1"


async def test_fastapi_app_shares_one_session(threaded_fake: FakeKommunicate) -> None:
    threaded_fake.state.create_group(
        name="c", members=["u"], client_group_id="c1", metadata={}, admin_id="bot"
    )
    km = threaded_fake.session()
    api = fastapi_app.create_app(km)
    async with serve_asgi(api) as root:
        base = root
        async with aiohttp.ClientSession() as http:

            async def post(i: int) -> int:
                url = f"{base}/conversations/c1/notices"
                async with http.post(url, json={"text": f"n{i}"}) as reply:
                    return reply.status

            statuses = await asyncio.gather(*(post(i) for i in range(5)))
            async with http.post(
                f"{base}/conversations/nope/notices", json={"text": "x"}
            ) as missing:
                assert missing.status == 404
            async with http.get(f"{base}/users/u/unread") as unread:
                assert (await unread.json()) == {"unread": 5}
    assert list(statuses) == [200] * 5
    assert sorted(m.text for m in threaded_fake.messages("c1")) == [
        f"n{i}" for i in range(5)
    ]
    assert km.closed  # the app's lifespan closed its one session
