"""Durable campaigns on Temporal: pause, resume, cancel and progress for one
campaign spread over many machines (the `temporal` extra).

    pip install "kommunicate-async[temporal]"

The campaign is a workflow (`CampaignWorkflow`, its id the campaign id) over a
manifest of chunks (`plan_jsonl`); each chunk is one activity that runs
`km.messages.iter_send` over its items with the campaign's shared Redis rate
limit and a Redis checkpoint of its own, heartbeating how far it got. A worker
that dies has its chunks retried elsewhere, from their last heartbeat, the
in-flight tail reconciled: every item ends with exactly one outcome.

    client = await Client.connect("localhost:7233")
    campaign = await start_campaign(client, "spring-sale", "items.jsonl", rate=400)
    await campaign.pause(); await campaign.resume()
    print(await campaign.progress())
    report = await campaign.result()

Workers: `campaign_worker(client, km, redis).run()`, or
`kommunicate-async campaign worker` (docs/guides/many-workers.md, "Campaigns on
Temporal").

OpenTelemetry: pass `interceptors=[TracingInterceptor()]`
(`temporalio.contrib.opentelemetry`) to `campaign_worker` and `Client.connect`
for Temporal's spans, and `chunk_span=` for a span of your own around each
chunk attempt (where the library's own spans will go).
"""

from __future__ import annotations

try:
    import temporalio  # noqa: F401  # pyright: ignore[reportUnusedImport]
except ImportError as exc:  # pragma: no cover - the extra is not installed
    raise ImportError(
        "kommunicate_async.scaleout.temporal needs temporalio: "
        'pip install "kommunicate-async[temporal]"'
    ) from exc

from ._activities import CampaignActivities, ChunkReader, ChunkSpan
from ._client import (
    TASK_QUEUE,
    CampaignHandle,
    campaign_handle,
    start_campaign,
    start_spec,
)
from ._control import ControlledRateLimit
from ._source import chunk_key, plan_jsonl, read_jsonl_chunk
from ._types import (
    CampaignProblem,
    CampaignProgress,
    CampaignReport,
    CampaignSpec,
    ChunkRange,
    ChunkReport,
    ChunkTask,
    Control,
)
from ._worker import campaign_worker
from ._workflow import CampaignWorkflow

__all__ = [
    "TASK_QUEUE",
    "CampaignActivities",
    "CampaignHandle",
    "CampaignProblem",
    "CampaignProgress",
    "CampaignReport",
    "CampaignSpec",
    "CampaignWorkflow",
    "ChunkRange",
    "ChunkReader",
    "ChunkReport",
    "ChunkSpan",
    "ChunkTask",
    "Control",
    "ControlledRateLimit",
    "campaign_handle",
    "campaign_worker",
    "chunk_key",
    "plan_jsonl",
    "read_jsonl_chunk",
    "start_campaign",
    "start_spec",
]
