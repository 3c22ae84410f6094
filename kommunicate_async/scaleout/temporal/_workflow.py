"""`CampaignWorkflow`: a campaign's chunks, its switches and its progress.

Deterministic by construction: the workflow only schedules activities and
counts what they report; all I/O (Redis, Kommunicate, the source) happens in
the activities. Its id is the campaign id, so a second start with the same id
attaches to the running campaign.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import deque
from datetime import timedelta
from typing import Final

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from ._types import (
    MAX_PROBLEMS,
    CampaignProgress,
    CampaignReport,
    CampaignSpec,
    CampaignState,
    ChunkRange,
    ChunkReport,
    ChunkTask,
    Control,
)

__all__ = ["CampaignWorkflow"]

WORKFLOW_NAME: Final = "KommunicateCampaign"
_SEND_CHUNK: Final = "kommunicate.campaign.send_chunk"
_APPLY_CONTROL: Final = "kommunicate.campaign.apply_control"
_CHUNK_RETRY: Final = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=0,  # a chunk is retried until it ends: nothing is dropped
)
_CONTROL_RETRY: Final = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    maximum_interval=timedelta(seconds=2),
    maximum_attempts=0,
)


@workflow.defn(name=WORKFLOW_NAME)
class CampaignWorkflow:
    """One campaign: runs `send_chunk` for each chunk of the manifest,
    `parallel` at a time; obeys `pause`, `resume`, `cancel` and `set_rate`;
    answers `progress()`; returns a `CampaignReport`. Continues as new (after
    its running chunks end) once its history passes `spec.max_history` events,
    so a campaign of millions keeps a small history."""

    def __init__(self) -> None:
        self._spec: CampaignSpec | None = None
        self._best: dict[int, ChunkReport] = {}
        self._finished: dict[int, ChunkReport] = {}
        self._paused = False
        self._cancelled = False
        self._rate = 0.0
        self._error: str | None = None
        self._version = 0
        self._applied = -1
        self._wake = False
        self._active = 0.0
        self._since: float | None = None
        self._listed = 0
        self._done = False

    # -- the run ---------------------------------------------------------------------

    @workflow.run
    async def run(
        self, spec: CampaignSpec, carried: CampaignState | None = None
    ) -> CampaignReport:
        """Send every chunk (or until cancelled); the campaign's report."""
        self._spec = spec
        if carried is None:
            self._rate = self._rate or spec.rate
        else:
            self._restore(carried)
        self._version += 1  # write the switch first: a reused id may hold a stale one
        if not self._paused:
            self._since = _now()
        pending = deque(c for c in spec.chunks if c.index not in self._finished)
        running: dict[int, asyncio.Task[None]] = {}
        draining: bool | None = False
        while draining is not None:
            try:
                draining = await self._step(spec, pending, running, draining)
            except asyncio.CancelledError:  # Temporal's own cancel: as the signal
                self._cancel()
        if pending and not self._stopping():
            await workflow.wait_condition(workflow.all_handlers_finished)
            workflow.continue_as_new(args=[spec, self._carry()])
        self._done = True
        self._pause_clock()
        return self._report(spec, pending)

    async def _step(
        self,
        spec: CampaignSpec,
        pending: deque[ChunkRange],
        running: dict[int, asyncio.Task[None]],
        draining: bool,
    ) -> bool | None:
        """One turn of the loop: the new draining flag, or None when done."""
        if self._applied != self._version:
            await self._apply_control(spec)
            return draining
        _reap(running)
        if not running and (self._stopping() or draining or not pending):
            return None
        draining = draining or self._should_drain(spec, pending)
        self._launch(spec, pending, running, draining)
        self._wake = False
        await workflow.wait_condition(lambda: self._wake)
        return draining

    async def _apply_control(self, spec: CampaignSpec) -> None:
        # Every worker's switch is written before anything else runs, so a
        # pause, cancel or rate change reaches in-flight chunks at once; the
        # version is read first, as a signal may bump it while this awaits.
        version = self._version
        await workflow.execute_local_activity(
            _APPLY_CONTROL,
            Control(spec.campaign, self._paused, self._stopping(), self._rate),
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=_CONTROL_RETRY,
        )
        self._applied = version

    def _should_drain(self, spec: CampaignSpec, pending: deque[ChunkRange]) -> bool:
        # Start draining (no new chunks; continue as new once the running ones
        # end) when the history grows past the spec's limit or Temporal asks.
        if not pending:
            return False
        info = workflow.info()
        return (
            info.get_current_history_length() > spec.max_history
            or info.is_continue_as_new_suggested()
        )

    def _launch(
        self,
        spec: CampaignSpec,
        pending: deque[ChunkRange],
        running: dict[int, asyncio.Task[None]],
        draining: bool,
    ) -> None:
        # Fill the free slots (up to `parallel`) unless paused, stopping or draining.
        if self._paused or self._stopping() or draining:
            return
        while pending and len(running) < spec.parallel:
            chunk = pending.popleft()
            running[chunk.index] = asyncio.create_task(self._run_chunk(spec, chunk))

    async def _run_chunk(self, spec: CampaignSpec, chunk: ChunkRange) -> None:
        task = ChunkTask(
            spec.campaign,
            spec.source,
            chunk,
            self._rate,
            spec.concurrency,
            spec.reconcile,
            spec.settle,
            spec.max_attempts,
        )
        try:
            report: ChunkReport = await workflow.execute_activity(
                _SEND_CHUNK,
                task,
                result_type=ChunkReport,
                start_to_close_timeout=timedelta(days=7),
                heartbeat_timeout=timedelta(seconds=spec.heartbeat_timeout),
                retry_policy=_CHUNK_RETRY,
            )
        except ActivityError as exc:  # not retryable (the source cannot be read)
            last = self._best.get(chunk.index) or ChunkReport(chunk.index, chunk.count)
            cause = exc.cause if exc.cause is not None else exc
            report = dataclasses.replace(
                last,
                finished=True,
                not_sent=chunk.count - last.done,
                error=str(cause),
            )
        self._finish(report)
        self._wake = True

    def _finish(self, report: ChunkReport) -> None:
        listed = max(MAX_PROBLEMS - self._listed, 0)
        report.problems = report.problems[:listed]  # the carried state stays small
        self._listed += len(report.problems)
        self._finished[report.chunk] = report
        self._best[report.chunk] = report
        if report.error is not None and self._error is None:
            self._error = f"chunk {report.chunk}: {report.error}"
            self._version += 1  # stop every worker's sends, as a cancel does

    # -- signals and the query -------------------------------------------------------

    @workflow.signal
    def pause(self) -> None:
        """Stop sending (in-flight sends end; nothing else leaves) until `resume`."""
        if not self._paused and not self._stopping():
            self._paused = True
            self._pause_clock()
        self._changed()

    @workflow.signal
    def resume(self) -> None:
        """Carry on after `pause`."""
        if self._paused:
            self._paused = False
            if not self._stopping():
                self._since = _now()
        self._changed()

    @workflow.signal
    def cancel(self) -> None:
        """Stop for good: sends stop at once, in-flight ones get their outcome, and
        the items never sent are reported `not_sent`."""
        self._cancel()

    @workflow.signal
    def set_rate(self, rate: float) -> None:
        """Change the campaign's sends a second (every worker, at once)."""
        value: object = rate  # from any client, any SDK: checked
        if isinstance(value, int | float) and value > 0:
            self._rate = float(value)
        self._changed()

    @workflow.signal
    def chunk_progress(self, report: ChunkReport) -> None:
        """A running chunk's counts so far (from its activity's heartbeat loop)."""
        if report.chunk in self._finished:
            return
        best = self._best.get(report.chunk)
        if best is None or report.done >= best.done:
            self._best[report.chunk] = report

    @workflow.query
    def progress(self) -> CampaignProgress:
        """Delivered, failed, ambiguous, remaining, rate and ETA, now."""
        spec = self._spec
        total = 0 if spec is None else spec.total
        delivered, failed, ambiguous = self._sent_counts()
        not_sent = self._not_sent_count()
        done = delivered + failed + ambiguous
        remaining = max(total - done - not_sent, 0)
        elapsed = self._elapsed()
        rate = done / elapsed if elapsed > 0 else 0.0
        return CampaignProgress(
            campaign="" if spec is None else spec.campaign,
            state=self._state(),
            total=total,
            delivered=delivered,
            failed=failed,
            ambiguous=ambiguous,
            not_sent=not_sent,
            remaining=remaining,
            rate=rate,
            rate_limit=self._rate,
            eta=remaining / rate if rate > 0 else None,
            chunks_done=len(self._finished),
            chunks=0 if spec is None else len(spec.chunks),
            control_version=self._version,
            control_applied=self._applied == self._version,
            elapsed=elapsed,
        )

    # -- helpers ---------------------------------------------------------------------

    def _sent_counts(self) -> tuple[int, int, int]:
        # Delivered, failed and ambiguous so far: finished chunks' final counts,
        # running ones' latest heartbeat.
        reports = list(self._best.values())
        delivered = sum(r.delivered for r in reports)
        failed = sum(r.failed for r in reports)
        ambiguous = sum(r.ambiguous for r in reports)
        return delivered, failed, ambiguous

    def _not_sent_count(self) -> int:
        # Finished chunks' unsent items; once the run has ended, chunks that
        # never started (cancelled or stopped first) count whole.
        not_sent = sum(r.not_sent for r in self._finished.values())
        spec = self._spec
        if self._done and spec is not None:
            not_sent += sum(
                c.count for c in spec.chunks if c.index not in self._finished
            )
        return not_sent

    def _cancel(self) -> None:
        if not self._cancelled:
            self._cancelled = True
            self._pause_clock()
        self._changed()

    def _changed(self) -> None:
        self._version += 1
        self._wake = True

    def _stopping(self) -> bool:
        return self._cancelled or self._error is not None

    def _state(self) -> str:
        if self._done:
            if self._cancelled:
                return "cancelled"
            return "stopped" if self._error is not None else "done"
        if self._stopping():
            return "cancelling" if self._cancelled else "stopping"
        return "paused" if self._paused else "running"

    def _pause_clock(self) -> None:
        if self._since is not None:
            self._active += _now() - self._since
            self._since = None

    def _elapsed(self) -> float:
        running = 0.0 if self._since is None else _now() - self._since
        return self._active + running

    def _carry(self) -> CampaignState:
        self._pause_clock()
        return CampaignState(
            finished=list(self._finished.values()),
            paused=self._paused,
            cancelled=self._cancelled,
            rate=self._rate,
            active=self._active,
            error=self._error,
            problems_listed=self._listed,
        )

    def _restore(self, carried: CampaignState) -> None:
        for report in carried.finished:
            self._finished[report.chunk] = report
            self._best[report.chunk] = report
        self._paused = self._paused or carried.paused
        self._cancelled = self._cancelled or carried.cancelled
        self._rate = carried.rate
        self._active = carried.active
        self._error = carried.error
        self._listed = carried.problems_listed

    def _report(self, spec: CampaignSpec, pending: deque[ChunkRange]) -> CampaignReport:
        report = CampaignReport(
            campaign=spec.campaign,
            cancelled=self._cancelled,
            error=self._error,
            duration=self._active,
        )
        for chunk in spec.chunks:
            done = self._finished.get(chunk.index)
            if done is None:  # never started: cancelled or stopped first
                report.not_sent += chunk.count
                continue
            report.delivered += done.delivered
            report.failed += done.failed
            report.ambiguous += done.ambiguous
            report.skipped += done.skipped
            report.not_sent += done.not_sent
            report.attempts += done.attempts
            report.problems.extend(done.problems)
        report.total = report.delivered + report.failed + report.ambiguous
        del report.problems[MAX_PROBLEMS:]
        del pending  # (chunks never started are those not finished)
        return report


def _reap(running: dict[int, asyncio.Task[None]]) -> None:
    # Forget the chunks whose tasks have ended (their reports are already in).
    for index in [i for i, task in running.items() if task.done()]:
        del running[index]


def _now() -> float:
    return workflow.now().timestamp()
