"""Client instructions per send, counted by valgrind: noise-free CPU ratios.

Wall-clock benchmarks on a shared 2-core machine wander by 10-15% between runs;
instruction counts do not (to about 1%). This runs the same client three ways under
`valgrind --tool=callgrind` against FakeKommunicate (in its own process, not
counted), at concurrency 1 and 64, twice (N and 3N requests) so start-up cancels out:

  raw       aiohttp + msgspec, the same bytes
  rawbest   the raw loop with the library's aiohttp savings (no per-request timer,
            await + content.read() + release(), cached headers and URL)
  send      km.messages.send()
  batch     km.messages.iter_send()
  batch-cp  km.messages.iter_send(checkpoint=...)
  *64       the same from 64 concurrent tasks (iter_send(concurrency=64))

and, for OpenTelemetry (#23), a row's `:absent`, `:off` and `:on` forms: the
`opentelemetry` package blocked from import (the `otel` extra not installed),
imported with no provider set (installed but off), and an SDK tracer and meter
provider with no-op exporters (on: a span and metrics per call). `raw:on` is the
raw loop with one bare SDK span and one histogram measurement per request: the
floor any instrumentation of a request pays the SDK.

    python -m benchmarks.bench_cpu [--requests 400]      (needs valgrind; ~8 minutes)
    python -m benchmarks.bench_cpu --modes raw,send:absent,send:off,send:on
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks._common import API_KEY, emit, fake_server, table
from kommunicate_async import KommunicateSession

CLIENT = rf"""
import asyncio, sys, tempfile
mode, otel = sys.argv[1].partition(":")[::2]
if otel == "absent":  # as if the extra were not installed: `import` fails
    for name in ("opentelemetry", "opentelemetry.trace", "opentelemetry.metrics"):
        sys.modules[name] = None
elif otel == "off":  # installed and imported by the app, no provider set
    import opentelemetry.metrics, opentelemetry.trace
elif otel == "on":  # the SDK, exporting nowhere
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import (
        MetricExporter, MetricExportResult, PeriodicExportingMetricReader)
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor, SpanExporter, SpanExportResult)

    class NoSpans(SpanExporter):
        def export(self, spans):
            return SpanExportResult.SUCCESS

    class NoMetrics(MetricExporter):
        def export(self, metrics_data, timeout_millis=10_000, **kwargs):
            return MetricExportResult.SUCCESS
        def force_flush(self, timeout_millis=10_000):
            return True
        def shutdown(self, timeout_millis=30_000, **kwargs):
            pass

    tracers = TracerProvider()
    tracers.add_span_processor(BatchSpanProcessor(NoSpans()))
    trace.set_tracer_provider(tracers)
    metrics.set_meter_provider(MeterProvider(metric_readers=[
        PeriodicExportingMetricReader(NoMetrics(), export_interval_millis=60_000)]))
import aiohttp, msgspec, yarl
from multidict import CIMultiDict, CIMultiDictProxy
from kommunicate_async import KommunicateSession
from kommunicate_async.models.batch import OutgoingMessage

n, url, cid = int(sys.argv[2]), sys.argv[3], int(sys.argv[4])

class Reply(msgspec.Struct):
    messageKey: str
    createdAt: int | None = None

class Body(msgspec.Struct):
    groupId: int
    message: str
    fromUserName: str
    metadata: dict[str, str]

decode, encode = msgspec.json.Decoder(Reply).decode, msgspec.json.Encoder().encode
HEADERS = {{"Api-Key": "{API_KEY}", "Content-Type": "application/json"}}

async def main():
    async with KommunicateSession(HEADERS["Api-Key"], base_url=url) as km, \
            aiohttp.ClientSession() as http, aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10)) as best:
        target = url + "/rest/ws/message/v2/send"
        async def raw(i):
            meta = {{"kmDedupeKey": f"{{i:024x}}"}}
            body = encode(Body(cid, f"bench {{i}}", "bot", meta))
            async with http.post(target, data=body, headers=HEADERS) as resp:
                decode(await resp.read())
        if otel == "on":  # the SDK's own floor: one bare span, one measurement
            floor_span = trace.get_tracer("floor").start_span
            floor_record = metrics.get_meter("floor").create_histogram("floor").record
            plain = raw
            async def raw(i):
                span = floor_span("POST")
                await plain(i)
                span.end()
                floor_record(0.0)
        best_headers = CIMultiDictProxy(CIMultiDict(HEADERS))
        best_url = yarl.URL(target)
        async def rawbest(i):  # the raw loop with the library's aiohttp savings
            meta = {{"kmDedupeKey": f"{{i:024x}}"}}
            body = encode(Body(cid, f"bench {{i}}", "bot", meta))
            resp = await best.post(best_url, data=body, headers=best_headers)
            decode(await resp.content.read())
            resp.release()
        async def send(i):
            meta = {{"kmDedupeKey": f"{{i:024x}}"}}
            await km.messages.send(cid, f"bench {{i}}", metadata=meta)
        for i in range(20):  # warm both paths: connections, caches
            await raw(i); await send(i); await rawbest(i)
        conc = 64 if mode.endswith("64") else 1
        if mode.startswith("batch"):
            items = (OutgoingMessage(cid, f"bench {{i}}") for i in range(n))
            cp = tempfile.mktemp(suffix=".jsonl") if mode == "batch-cp" else None
            async for _ in km.messages.iter_send(
                items, concurrency=conc, checkpoint=cp
            ):
                pass
        else:
            call = {{"raw": raw, "raw64": raw, "rawbest": rawbest}}.get(mode, send)
            queue = iter(range(n))
            async def worker():
                for i in queue:
                    await call(i)
            await asyncio.gather(*(worker() for _ in range(conc)))

asyncio.run(main())
"""


MODES = ("raw", "rawbest", "send", "batch", "batch-cp", "raw64", "send64", "batch64")
"""c=1 rows, a checkpointed batch, then c=64 rows (compared with raw64)."""
OTEL_MODES = (
    "raw",
    "raw:on",
    "send:absent",
    "send:off",
    "send:on",
    "batch:absent",
    "batch:on",
)
"""`--otel`: the cost of OpenTelemetry absent, installed but off, and on."""


ROOT = str(Path(__file__).resolve().parent.parent)
"""The checkout this file is in: the client script imports the library from it, not
from wherever the venv has it installed."""


def count(script: str, mode: str, n: int, url: str, cid: int) -> int:
    with tempfile.NamedTemporaryFile(suffix=".out") as out:
        done = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out.name}",
                sys.executable,
                script,
                mode,
                str(n),
                url,
                str(cid),
            ],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": ROOT},
        )
    found = re.search(r"Collected : (\d+)", done.stderr)
    assert found, done.stderr[-500:]
    return int(found.group(1))


async def conversation(url: str) -> int:
    async with KommunicateSession(API_KEY, base_url=url) as km:
        return (await km.conversations.create(["u"])).id


def main(requests: int, modes: tuple[str, ...] = MODES) -> None:
    if shutil.which("valgrind") is None:
        print("valgrind not found: skipped (apt-get install valgrind)")
        emit("cpu", {"skipped": True})
        return
    with (
        fake_server(keep_messages=5) as url,
        tempfile.NamedTemporaryFile("w", suffix=".py") as script,
    ):
        script.write(CLIENT)
        script.flush()
        cid = asyncio.run(conversation(url))
        per = {}
        for mode in modes:
            low = count(script.name, mode, requests, url, cid)
            high = count(script.name, mode, 3 * requests, url, cid)
            per[mode] = (high - low) / (2 * requests)

    def base(mode: str) -> float:  # each row against the raw loop at its concurrency
        return per["raw64"] if mode.partition(":")[0].endswith("64") else per["raw"]

    rows = [
        [mode, round(v), round(v - base(mode)), base(mode) / v]
        for mode, v in per.items()
    ]
    print(table(["client", "instructions/send", "+ vs raw", "raw/client"], rows))
    otel = _otel_costs(per)
    if otel:
        print(table(["row", "vs :absent", "+ instructions/send"], otel))
    emit(
        "cpu",
        {mode: round(v) for mode, v in per.items()}
        | {
            f"{mode}_ratio": round(base(mode) / v, 3)
            for mode, v in per.items()
            if not mode.startswith("raw")
        },
    )


def _otel_costs(per: dict[str, float]) -> list[list[object]]:
    """Each `:off` / `:on` row against its `:absent` row of the same run."""
    rows: list[list[object]] = []
    for mode, value in per.items():
        kind, _, otel = mode.partition(":")
        absent = per.get(f"{kind}:absent")
        if otel in ("off", "on") and absent:
            rows.append([mode, value / absent, round(value - absent)])
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument(
        "--modes", default=",".join(MODES), help="comma-separated rows (raw needed)"
    )
    parser.add_argument(
        "--otel", action="store_true", help=f"the OpenTelemetry rows: {OTEL_MODES}"
    )
    args = parser.parse_args()
    main(args.requests, OTEL_MODES if args.otel else tuple(args.modes.split(",")))
