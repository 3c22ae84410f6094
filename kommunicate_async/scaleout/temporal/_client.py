"""The starter's side: start (or attach to) a campaign, and steer it."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any, Final

import anyio
from temporalio.common import WorkflowIDConflictPolicy

from ..._errors import InvalidRequestError
from ._source import plan_jsonl
from ._types import CampaignProgress, CampaignReport, CampaignSpec
from ._workflow import CampaignWorkflow

if TYPE_CHECKING:
    from temporalio.client import Client, WorkflowHandle

__all__ = ["TASK_QUEUE", "CampaignHandle", "campaign_handle", "start_campaign"]

TASK_QUEUE: Final = "kommunicate-campaigns"
"""The task queue campaign workers poll unless told otherwise."""


class CampaignHandle:
    """A running (or finished) campaign: its signals, its query, its result."""

    def __init__(self, handle: WorkflowHandle[Any, Any]) -> None:
        self.handle = handle
        """The Temporal workflow handle (for anything not wrapped here)."""

    @property
    def campaign(self) -> str:
        """The campaign id (the workflow id)."""
        return self.handle.id

    async def progress(self) -> CampaignProgress:
        """The `progress()` query."""
        return await self.handle.query(CampaignWorkflow.progress)

    async def pause(self, *, wait: float | None = 30.0) -> None:
        """Pause; with `wait` (seconds), return once every worker holds (in-flight
        sends may still end) or raise TimeoutError."""
        before = await self._version(wait)
        await self.handle.signal(CampaignWorkflow.pause)
        await self._until_applied(before, wait)

    async def resume(self, *, wait: float | None = 30.0) -> None:
        """Resume after a pause (with `wait`: once the workers know)."""
        before = await self._version(wait)
        await self.handle.signal(CampaignWorkflow.resume)
        await self._until_applied(before, wait)

    async def cancel(self, *, wait: float | None = 30.0) -> None:
        """Cancel: no more sends (with `wait`: once every worker knows)."""
        before = await self._version(wait)
        await self.handle.signal(CampaignWorkflow.cancel)
        await self._until_applied(before, wait)

    async def set_rate(self, rate: float, *, wait: float | None = 30.0) -> None:
        """Change the campaign's sends a second."""
        _check_rate(rate)
        before = await self._version(wait)
        await self.handle.signal(CampaignWorkflow.set_rate, float(rate))
        await self._until_applied(before, wait)

    async def result(self) -> CampaignReport:
        """Wait for the campaign's end; its report."""
        report: CampaignReport = await self.handle.result()
        return report

    async def _version(self, wait: float | None) -> int:
        return -1 if wait is None else (await self.progress()).control_version

    async def _until_applied(self, before: int, wait: float | None) -> None:
        if wait is None:
            return
        deadline = time.monotonic() + wait
        while True:
            progress = await self.progress()
            if progress.state in ("done", "cancelled", "stopped") or (
                progress.control_version > before and progress.control_applied
            ):
                await anyio.sleep(0.05)  # the workers read the switch <= 20 ms old
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"campaign {self.campaign}: the workers did not confirm"
                )
            await anyio.sleep(0.02)


def _check_rate(rate: float) -> None:
    value: object = rate  # checked at run time: callers may be untyped
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InvalidRequestError("rate must be a number of sends a second > 0")


def campaign_handle(client: Client, campaign: str) -> CampaignHandle:
    """The handle of an existing campaign (its latest run)."""
    return CampaignHandle(
        client.get_workflow_handle_for(CampaignWorkflow.run, campaign)
    )


async def start_campaign(
    client: Client,
    campaign: str,
    source: str,
    *,
    rate: float,
    chunk_size: int = 1000,
    parallel: int = 8,
    concurrency: int = 16,
    task_queue: str = TASK_QUEUE,
    **options: Any,
) -> CampaignHandle:
    """Start the campaign `campaign` over a JSONL file, or attach to it if it runs.

    `source` is read once here (every line checked, the manifest planned:
    chunks of `chunk_size`); the workers read only their chunks' bytes, so
    the path must be the same on every worker (a shared volume). `options` are
    the other `CampaignSpec` fields (`settle`, `heartbeat_timeout`, ...).

    Raises:
        InvalidRequestError: bad input (a line that is not an item, a bad rate).
    """
    _check_rate(rate)
    if not campaign or len(campaign) > 200:
        raise InvalidRequestError("campaign must be a non-empty id of <= 200 chars")
    if "://" not in source and not source.startswith("file:"):
        # workers run elsewhere: never relative (plan_jsonl reads it here anyway)
        source = os.path.abspath(source)  # noqa: ASYNC240
    spec = CampaignSpec(
        campaign=campaign,
        source=source,
        chunks=plan_jsonl(source, chunk_size=chunk_size),
        rate=float(rate),
        parallel=parallel,
        concurrency=concurrency,
        **options,
    )
    return await start_spec(client, spec, task_queue=task_queue)


async def start_spec(
    client: Client, spec: CampaignSpec, *, task_queue: str = TASK_QUEUE
) -> CampaignHandle:
    """Start a campaign from a manifest of your own (`CampaignSpec`); a second
    start with the same campaign id attaches to the running one."""
    handle = await client.start_workflow(
        CampaignWorkflow.run,
        args=[spec, None],  # every argument: Temporal types them only then
        id=spec.campaign,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    return CampaignHandle(handle)
