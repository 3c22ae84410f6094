from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from kommunicate_async import KommunicateSession
    from kommunicate_async.testing import FakeKommunicate


async def test_plugin_fixtures_talk_to_each_other(
    kommunicate_fake: FakeKommunicate, kommunicate_session: KommunicateSession
) -> None:
    chat = await kommunicate_session.conversations.create(["u"])
    await kommunicate_session.messages.send(chat, "hello")
    assert [m.text for m in kommunicate_fake.messages(chat.id)] == ["hello"]
    assert kommunicate_session.config.base_url == kommunicate_fake.url


def test_fixtures_work_under_pytest_asyncio_strict_and_anyio(tmp_path: Path) -> None:
    """A fresh project, both runners side by side (asyncio_mode = strict)."""
    (tmp_path / "conftest.py").write_text(
        'pytest_plugins = ["kommunicate_async.testing.pytest_plugin"]\n'
    )
    (tmp_path / "test_both.py").write_text(
        """
import pytest
from kommunicate_async.bots import BotApp


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def check(fake, km, serve):
    chat = await km.conversations.create(["u"])
    await km.messages.send(chat, "hello")
    assert [m.text for m in fake.messages(chat.id)] == ["hello"]
    server = await serve(BotApp(km, insecure_no_auth=True))
    assert server.bot_url.startswith("http://127.0.0.1:")


@pytest.mark.anyio
async def test_anyio(kommunicate_fake, kommunicate_session, kommunicate_bot_server):
    await check(kommunicate_fake, kommunicate_session, kommunicate_bot_server)


@pytest.mark.asyncio
async def test_asyncio(kommunicate_fake, kommunicate_session, kommunicate_bot_server):
    await check(kommunicate_fake, kommunicate_session, kommunicate_bot_server)
"""
    )
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "error::ResourceWarning",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
