"""KOMMUNICATE_LOG and the CLI's -v: one line per request on stderr, no secret."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from kommunicate_async._logging import log, setup_from_env
from tests.threaded_fake import ThreadedFake

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def fresh_logger() -> Iterator[None]:
    level, handlers = log.level, list(log.handlers)
    log.handlers.clear()
    yield
    log.setLevel(level)
    log.handlers[:] = handlers


@pytest.mark.usefixtures("fresh_logger")
def test_setup_from_env_sets_level_and_one_handler(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KOMMUNICATE_LOG", "INFO")
    setup_from_env()
    setup_from_env()
    assert log.level == logging.INFO and len(log.handlers) == 1
    setup_from_env("nonsense")  # an unknown value changes nothing
    assert log.level == logging.INFO


@pytest.mark.slow
def test_cli_verbose_logs_each_request_without_the_key() -> None:
    with ThreadedFake() as fake:
        env = {
            **os.environ,
            "KOMMUNICATE_API_KEY": fake.api_key,
            "KOMMUNICATE_BASE_URL": fake.url,
            "KOMMUNICATE_CHAT_URL": fake.url,
            "KOMMUNICATE_LOG": "debug",
        }
        done = subprocess.run(
            [sys.executable, "-m", "kommunicate_async", "unread", "user-1"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
    assert done.returncode == 0, done.stderr
    assert "POST /rest/ws/user/v2/detail -> 200 (attempt 1," in done.stderr
    assert fake.api_key not in done.stderr + done.stdout


@pytest.mark.slow
def test_demo_with_debug_logging_shows_one_line_per_request() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOMMUNICATE_")}
    env["KOMMUNICATE_LOG"] = "debug"
    done = subprocess.run(
        [sys.executable, "-m", "kommunicate_async", "demo"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    requests = [line for line in done.stderr.splitlines() if " -> " in line]
    assert len(requests) >= 10  # create, sends, assignments, reads, status...
    assert any("POST /rest/ws/message/v2/send -> 200" in line for line in requests)
    assert "fake-api-key" not in done.stderr  # the embedded fake's key
