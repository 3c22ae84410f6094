"""examples/multi_replica_bot.py as shipped: its launcher starts 2 replica processes
on one Redis; a message and its redelivery to the other replica get one answer, and
stopping the launcher stops the replicas."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time

import pytest

from kommunicate_async.testing import BotReplicas, FakeKommunicate
from tests.bots_replicas.test_four_replicas import ROOT, _listening

pytestmark = pytest.mark.botreplicas

EXAMPLE = os.path.join(ROOT, "examples", "multi_replica_bot.py")
HEADER = ("X-Bot-Token", "example-s3cret")


def _two_free_ports() -> int:
    """A port p with p + 1 free too."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        with socket.socket() as other:
            if other.connect_ex(("127.0.0.1", port + 1)) != 0:
                return port
    raise RuntimeError("no two free ports")


async def test_the_launcher_serves_one_answer_per_message(redis_url: str) -> None:
    from redis.asyncio import Redis

    port = _two_free_ports()
    async with FakeKommunicate() as fake:
        env = {
            **os.environ,
            "PYTHONPATH": ROOT,
            "REDIS_URL": redis_url,
            "BOT_TOKEN": HEADER[1],
            "HOST": "127.0.0.1",
            "KOMMUNICATE_API_KEY": fake.api_key,
            "KOMMUNICATE_BASE_URL": fake.url,
        }
        redis = Redis.from_url(redis_url)
        await redis.delete(
            *(await redis.keys("kommunicate:bot:multi-replica-bot:*")) or ["-"]
        )
        launcher = await asyncio.create_subprocess_exec(
            sys.executable,
            EXAMPLE,
            "2",
            "--port",
            str(port),
            env=env,
            cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL,
        )
        try:
            await _listening(port)
            await _listening(port + 1)
            chat = fake.state.create_group(
                name="c",
                members=["user", "bot"],
                client_group_id=None,
                metadata={},
                admin_id="bot",
            )
            urls = [f"http://127.0.0.1:{p}/bot" for p in (port, port + 1)]
            async with BotReplicas(fake, urls, header=HEADER) as lb:
                first = await lb.deliver(
                    f"hello {time.time_ns()}", group_id=chat.id, apply=False
                )
                again = await lb.redeliver(first.key, exclude=first.replica)
                other = await lb.deliver("bye", group_id=chat.id)
        finally:
            launcher.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(launcher.wait(), 30)
            await redis.aclose()
    assert first.replicas != again.replicas
    assert first.body == again.body and first.replies[0]["message"].startswith(
        "You said: hello"
    )
    assert other.replies == ({"message": "You said: bye"},)
    bot_said = [m.text for m in fake.messages(chat.id) if m.sender == "bot"]
    assert bot_said == [first.replies[0]["message"], "You said: bye"]  # one each
    assert code == 0
