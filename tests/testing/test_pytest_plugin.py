from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from kommunicate_async import Retries, ServerError
from kommunicate_async.testing import Fault
from tests.fresh_project import run_pytest

if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

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


GROUP_INFO = "GET /rest/ws/group/info"


def test_the_options_default_to_no_arguments(
    kommunicate_fake_options: dict[str, Any],
    kommunicate_session_options: dict[str, Any],
) -> None:
    assert kommunicate_fake_options == {}
    assert kommunicate_session_options == {}


# Direct parametrization overrides a fixture of the same name, as a conftest would.
@pytest.mark.parametrize("kommunicate_fake_options", [{"api_key": "key-2"}])
@pytest.mark.parametrize(
    ("kommunicate_session_options", "faults"),
    [
        ({"max_retries": 0}, ["503"]),
        ({"retries": Retries(backoff_base=0.0)}, ["503", "none"]),
    ],
    ids=["no-retries", "retries-at-once"],
)
async def test_the_options_configure_the_fake_and_the_session(
    kommunicate_fake_options: dict[str, Any],
    kommunicate_session_options: dict[str, Any],
    kommunicate_fake: FakeKommunicate,
    kommunicate_session: KommunicateSession,
    faults: list[str],
) -> None:
    assert kommunicate_fake.api_key == kommunicate_fake_options["api_key"] == "key-2"
    retries = kommunicate_session_options.get("max_retries", 2)
    assert kommunicate_session.config.max_retries == retries
    chat = await kommunicate_session.conversations.create(["u"])
    kommunicate_fake.faults.script(GROUP_INFO, Fault.ERROR_503)
    if faults == ["503"]:
        with pytest.raises(ServerError):
            await kommunicate_session.conversations.get(chat.id)
    else:
        assert (await kommunicate_session.conversations.get(chat.id)).id == chat.id
    sent = kommunicate_fake.requests_to(GROUP_INFO)
    assert [r.fault for r in sent] == faults
    assert {r.headers["Api-Key"] for r in sent} == {"key-2"}


OPTIONS_CONFTEST = """
import pytest

pytest_plugins = ["kommunicate_async.testing.pytest_plugin"]


@pytest.fixture
def kommunicate_fake_options():
    return {"api_key": "project-key"}
"""

OPTIONS_NO_RETRIES = """
import pytest
from kommunicate_async import ServerError
from kommunicate_async.testing import Fault


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def kommunicate_session_options():
    return {"max_retries": 0}


async def check(fake, km):
    assert fake.api_key == "project-key"
    chat = await km.conversations.create(["u"])
    fake.faults.script("GET /rest/ws/group/info", Fault.ERROR_503)
    with pytest.raises(ServerError):
        await km.conversations.get(chat.id)
    assert len(fake.requests_to("GET /rest/ws/group/info")) == 1


@pytest.mark.anyio
async def test_anyio(kommunicate_fake, kommunicate_session):
    await check(kommunicate_fake, kommunicate_session)


@pytest.mark.asyncio
async def test_asyncio(kommunicate_fake, kommunicate_session):
    await check(kommunicate_fake, kommunicate_session)
"""

OPTIONS_DEFAULT_SESSION = """
import pytest


@pytest.mark.asyncio
async def test_only_the_conftest_override_applies(kommunicate_fake, kommunicate_session):
    assert kommunicate_fake.api_key == "project-key"
    assert kommunicate_session.config.max_retries == 2
"""


@pytest.mark.slow
def test_a_conftest_and_a_module_override_the_options(tmp_path: Path) -> None:
    """A fresh project: the conftest sets the fake's key; one module turns the
    session's retries off, under both runners; the other keeps the default."""
    done = run_pytest(
        tmp_path,
        {
            "conftest.py": OPTIONS_CONFTEST,
            "test_no_retries.py": OPTIONS_NO_RETRIES,
            "test_default_session.py": OPTIONS_DEFAULT_SESSION,
            "pytest.ini": "[pytest]\nasyncio_mode = strict\n"
            "asyncio_default_fixture_loop_scope = function\n",
        },
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout
