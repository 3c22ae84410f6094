"""A campaign worker: the workflow and its activities on one task queue."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import (
    SandboxedWorkflowRunner,
    SandboxRestrictions,
)

from ._activities import CampaignActivities
from ._client import TASK_QUEUE
from ._workflow import CampaignWorkflow

if TYPE_CHECKING:
    from collections.abc import Sequence

    from redis.asyncio import Redis
    from temporalio.client import Client
    from temporalio.worker import Interceptor

    from ..._session import KommunicateSession
    from ._activities import ChunkReader, ChunkSpan

__all__ = ["campaign_worker"]


def campaign_worker(
    client: Client,
    km: KommunicateSession,
    redis: Redis,
    *,
    task_queue: str = TASK_QUEUE,
    max_chunks: int = 4,
    read_chunk: ChunkReader | None = None,
    chunk_span: ChunkSpan | None = None,
    interceptors: Sequence[Interceptor] = (),
    **worker_options: Any,
) -> Worker:
    """A Temporal `Worker` running `CampaignWorkflow` and its activities.

    `await worker.run()` (or `async with worker:`) until shut down; run one
    per machine (or process), all on the same task queue, Temporal and Redis.

    Args:
        max_chunks: chunks this worker sends at once.
        read_chunk: how a chunk is read (default: JSONL by byte offsets).
        chunk_span: the OpenTelemetry hook around each chunk attempt.
        interceptors: Temporal interceptors, e.g.
            `temporalio.contrib.opentelemetry.TracingInterceptor()` for
            Temporal's own spans.
        worker_options: passed on to `temporalio.worker.Worker`.
    """
    options: dict[str, Any] = {}
    if read_chunk is not None:
        options["read_chunk"] = read_chunk
    activities = CampaignActivities(km, redis, chunk_span=chunk_span, **options)
    # The library is free of import-time side effects: the sandbox may share it
    # (re-importing aiohttp and redis for every workflow run is slow, not safer).
    runner = SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(
            "kommunicate_async", "msgspec", "anyio", "redis", "aiohttp"
        )
    )
    settings: dict[str, Any] = {
        "max_concurrent_activities": max_chunks,
        # A killed worker's workflow moves to another in 2 s, not 10.
        "sticky_queue_schedule_to_start_timeout": timedelta(seconds=2),
        **worker_options,
    }
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[CampaignWorkflow],
        activities=[activities.send_chunk, activities.apply_control],
        workflow_runner=runner,
        interceptors=interceptors,
        **settings,
    )
