"""Free when off: no extra work with the API absent or no provider set; a provider
set later is seen; the library works with `opentelemetry` not installed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.metrics import _internal as metrics_api
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

from kommunicate_async import _telemetry
from kommunicate_async._telemetry import active
from tests.payloads import load

if TYPE_CHECKING:
    import pytest

    from kommunicate_async import KommunicateSession
    from tests.mockapi import MockApi

SEND = "/rest/ws/message/v2/send"


def test_the_api_globals_read_are_where_the_api_keeps_them() -> None:
    """`active()` reads these private names (cheaper than the getters, which look
    the environment up): a new API version that moves them fails here."""
    assert hasattr(trace, "_TRACER_PROVIDER")
    assert hasattr(metrics_api, "_METER_PROVIDER")
    assert hasattr(metrics_api, "_ProxyMeterProvider")


def test_off_with_no_provider_set() -> None:
    assert trace._TRACER_PROVIDER is None  # pyright: ignore[reportPrivateUsage]
    assert active() is None


def test_off_with_the_api_not_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.trace", None)
    monkeypatch.setitem(sys.modules, "opentelemetry.metrics._internal", None)
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", TracerProvider())
    assert active() is None


def test_explicit_no_op_providers_are_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", trace.NoOpTracerProvider())
    assert active() is None


def test_an_api_without_the_globals_is_asked_through_its_getters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    providers: list[trace.TracerProvider] = [trace.ProxyTracerProvider()]
    monkeypatch.delattr(trace, "_TRACER_PROVIDER")
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: providers[-1])
    assert active() is None
    providers.append(TracerProvider())
    first = active()
    assert first is not None and first is active()  # built once per provider


async def test_a_provider_set_later_is_picked_up(
    monkeypatch: pytest.MonkeyPatch, api: MockApi, km: KommunicateSession
) -> None:
    api.add("POST", SEND, body=load("send_message_bare"), repeat=True)
    exporter = InMemorySpanExporter()
    await km.messages.send(1, "before")
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", provider)
    await km.messages.send(1, "after")
    assert [s.name for s in exporter.get_finished_spans()] == [f"POST {SEND}"]


async def test_metrics_alone_count_without_spans(
    monkeypatch: pytest.MonkeyPatch, api: MockApi, km: KommunicateSession
) -> None:
    api.add("POST", SEND, body=load("send_message_bare"))
    reader = InMemoryMetricReader()
    monkeypatch.setattr(
        metrics_api, "_METER_PROVIDER", MeterProvider(metric_readers=[reader])
    )
    telemetry = active()
    assert telemetry is not None
    assert isinstance(telemetry.tracer, trace.NoOpTracer)
    await km.messages.send(1, "x")
    data = reader.get_metrics_data()
    assert data is not None
    names = {
        m.name
        for r in data.resource_metrics
        for s in r.scope_metrics
        for m in s.metrics
    }
    assert names == {"kommunicate.client.request.duration"}


def test_the_hooks_do_nothing_when_off() -> None:
    """Each hook returns at once (no provider here: nothing to record into)."""
    _telemetry.note_reconcile(None)
    _telemetry.note_deadline_miss()
    _telemetry.note_fallback()
    _telemetry.note_replies([])
    assert active() is None


_ABSENT = textwrap.dedent(
    """
    import asyncio, sys
    for name in ("opentelemetry", "opentelemetry.trace", "opentelemetry.metrics"):
        sys.modules[name] = None  # `import opentelemetry` now raises ImportError
    from kommunicate_async import OutgoingMessage
    from kommunicate_async.bots import BotApp
    from kommunicate_async.testing import FakeKommunicate

    async def main():
        async with FakeKommunicate() as fake, fake.session() as km:
            chat = await km.conversations.create(["user-1"])
            sent = await km.messages.send(chat.id, "hi")
            report = await km.messages.send_many(
                [OutgoingMessage(chat.id, "a"), OutgoingMessage(chat.id, "b")]
            )
            bot = BotApp(km, insecure_no_auth=True)
            reply = await bot.answer(
                "bot", b'{"key":"k1","groupId":%d,"message":"hi"}' % chat.id
            )
            texts = [m.text for m in fake.messages(chat.id)]
        print(sent.key != "", report.delivered, reply.status, texts)
        loaded = [m for m, v in sys.modules.items() if m.startswith("opentelemetry")]
        print(all(sys.modules[m] is None for m in loaded))

    asyncio.run(main())
    """
)


def test_the_library_works_with_opentelemetry_absent() -> None:
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", _ABSENT],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == ["True 2 200 ['hi', 'a', 'b']", "True"]
