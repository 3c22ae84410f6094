from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.fresh_project import run_pytest

if TYPE_CHECKING:
    from pathlib import Path

    from kommunicate_async import KommunicateSession
    from kommunicate_async.bots import BotContext, BotRequest
    from kommunicate_async.testing import FakeKommunicate
    from kommunicate_async.testing.pytest_plugin import ServeBot


async def test_plugin_fixtures_talk_to_each_other(
    kommunicate_fake: FakeKommunicate, kommunicate_session: KommunicateSession
) -> None:
    chat = await kommunicate_session.conversations.create(["u"])
    await kommunicate_session.messages.send(chat, "hello")
    assert [m.text for m in kommunicate_fake.messages(chat.id)] == ["hello"]
    assert kommunicate_session.config.base_url == kommunicate_fake.url


BOTH_RUNNERS = """
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


@pytest.mark.slow
def test_fixtures_work_under_pytest_asyncio_strict_and_anyio(tmp_path: Path) -> None:
    """A fresh project, both runners side by side (asyncio_mode = strict)."""
    done = run_pytest(
        tmp_path,
        {
            "conftest.py": 'pytest_plugins = ["kommunicate_async.testing.pytest_plugin"]\n',
            "test_both.py": BOTH_RUNNERS,
            "pytest.ini": "[pytest]\nasyncio_mode = strict\n"
            "asyncio_default_fixture_loop_scope = function\n",
        },
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


HEADER = ("X-Bot-Token", "plugin-test-secret")


async def test_the_bot_server_twin_answers(
    kommunicate_fake: FakeKommunicate,
    kommunicate_session: KommunicateSession,
    kommunicate_bot_server: ServeBot,
) -> None:
    # (the anyio twins run in the fresh project above: in this suite's auto mode
    # pytest-asyncio would take their async fixtures too)
    from kommunicate_async.bots import BotApp

    bot = BotApp(kommunicate_session, bot_header=HEADER)

    @bot.on_message
    async def echo(request: BotRequest, ctx: BotContext) -> str:  # noqa: ARG001
        return f"you said {request.text}"

    server = await kommunicate_bot_server(bot)
    chat = await kommunicate_session.conversations.create(["u"])
    delivered = await kommunicate_fake.deliver_bot_message(
        server.bot_url, "hi", group_id=chat.id, bot_id="bot", header=HEADER
    )
    assert delivered.status == 200
    assert b"you said hi" in delivered.body


async def test_the_asyncio_bot_server_twin(
    kommunicate_session: KommunicateSession, kommunicate_bot_server: ServeBot
) -> None:
    from kommunicate_async.bots import BotApp

    server = await kommunicate_bot_server(
        BotApp(kommunicate_session, bot_header=HEADER), adapter="asgi"
    )
    assert server.bot_url.startswith("http://127.0.0.1:")
