"""What travels through Temporal: the manifest, a chunk's task and report, the
campaign's progress and final report. Plain dataclasses of plain types, so
Temporal's default JSON converter carries them and any SDK can read them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CampaignProblem",
    "CampaignProgress",
    "CampaignReport",
    "CampaignSpec",
    "CampaignState",
    "ChunkBeat",
    "ChunkRange",
    "ChunkReport",
    "ChunkTask",
    "Control",
]

MAX_PROBLEMS = 1000
"""Problems listed in a campaign's report (counts stay exact past it)."""
MAX_CHUNK_PROBLEMS = 100
"""Problems a chunk carries in its heartbeat and report."""


@dataclass
class ChunkRange:
    """One chunk of the campaign's source: items `[start, end)` of it.

    For a JSONL source `start` and `end` are byte offsets of line starts, so a
    worker seeks straight to its chunk and never reads the rest of the file.

    Attributes:
        index: the chunk's id (0-based, its place in the manifest).
        start: where the chunk begins in the source.
        end: where the next chunk begins.
        count: items in the chunk.
    """

    index: int
    start: int
    end: int
    count: int


@dataclass
class CampaignSpec:
    """A campaign: its source, its chunks (the manifest) and how to send them.

    Attributes:
        campaign: the campaign's id; also the workflow id.
        source: where every worker reads the items (a JSONL path or `file:` URI
            that each worker can open: a shared volume, or the same file on each).
        chunks: the manifest (see `plan_jsonl`).
        rate: sends a second for the whole campaign, over every worker.
        parallel: chunks sent at once (one activity each).
        concurrency: sends in flight within one chunk.
        reconcile: check possibly-sent items in the conversation before
            sending again (keep True: it is what makes a retried chunk exact).
        settle: seconds a possibly-sent message gets to land before reconcile.
        max_attempts: send attempts per item (None: the worker session's).
        heartbeat_timeout: seconds without a heartbeat before Temporal retries a
            chunk elsewhere (its worker died).
        max_history: history events before the workflow continues as new.
    """

    campaign: str
    source: str
    chunks: list[ChunkRange]
    rate: float
    parallel: int = 8
    concurrency: int = 16
    reconcile: bool = True
    settle: float = 3.0
    max_attempts: int | None = None
    heartbeat_timeout: float = 10.0
    max_history: int = 10_000

    @property
    def total(self) -> int:
        """Items in the campaign."""
        return sum(chunk.count for chunk in self.chunks)


@dataclass
class Control:
    """The campaign's switches as every worker reads them (from Redis)."""

    campaign: str
    paused: bool = False
    cancelled: bool = False
    rate: float = 0.0


@dataclass
class ChunkTask:
    """The input of one `send_chunk` activity."""

    campaign: str
    source: str
    chunk: ChunkRange
    rate: float
    concurrency: int = 16
    reconcile: bool = True
    settle: float = 3.0
    max_attempts: int | None = None


@dataclass
class CampaignProblem:
    """One item that was not delivered: `failed` (definitely not sent, with the
    reason) or `ambiguous` (possibly sent; a key found twice says so here)."""

    chunk: int
    index: int
    """The item's place in its chunk (0-based)."""
    dedupe_key: str
    status: str
    error: str


@dataclass
class ChunkBeat:
    """A chunk's heartbeat: every item before `next_index` has its outcome here
    (counted, problems listed); a retried activity resumes at `offset`."""

    next_index: int = 0
    offset: int = 0
    delivered: int = 0
    failed: int = 0
    ambiguous: int = 0
    skipped: int = 0
    attempts: int = 0
    problems: list[CampaignProblem] = field(default_factory=list[CampaignProblem])

    @classmethod
    def from_details(cls, details: Any, start: int) -> ChunkBeat:
        """The beat a retried attempt resumes from (a fresh one if none)."""
        if not isinstance(details, dict):
            return cls(offset=start)
        raw: dict[str, Any] = dict(details)  # pyright: ignore[reportUnknownArgumentType]
        raw["problems"] = [CampaignProblem(**p) for p in raw.get("problems", [])]
        return cls(**raw)


@dataclass
class ChunkReport:
    """A chunk's outcome so far (a progress signal) or in the end (the result).

    `delivered + failed + ambiguous + not_sent == count` once `finished`."""

    chunk: int
    count: int
    attempt: int = 1
    delivered: int = 0
    failed: int = 0
    ambiguous: int = 0
    skipped: int = 0
    """Items an earlier attempt or run had delivered (counted in `delivered`)."""
    attempts: int = 0
    not_sent: int = 0
    finished: bool = False
    cancelled: bool = False
    error: str | None = None
    problems: list[CampaignProblem] = field(default_factory=list[CampaignProblem])

    @property
    def done(self) -> int:
        """Items with an outcome."""
        return self.delivered + self.failed + self.ambiguous


@dataclass
class CampaignProgress:
    """The `progress()` query: where the campaign is now.

    Attributes:
        state: "running", "paused", "cancelling", "cancelled", "stopped" (a
            fatal error) or "done".
        remaining: items with no outcome yet (`total - done - not_sent`).
        rate: items finished per second so far (paused time excluded).
        rate_limit: the campaign's send limit (sends a second).
        eta: seconds left at `rate` (None before the first outcome).
        control_version: how many pause/resume/cancel/set_rate signals (and
            internal stops) the campaign has taken.
        control_applied: the last of them is in force on every worker.
    """

    campaign: str
    state: str
    total: int
    delivered: int
    failed: int
    ambiguous: int
    not_sent: int
    remaining: int
    rate: float
    rate_limit: float
    eta: float | None
    chunks_done: int
    chunks: int
    control_version: int
    control_applied: bool
    elapsed: float

    @property
    def done(self) -> int:
        """Items with an outcome."""
        return self.delivered + self.failed + self.ambiguous

    @property
    def paused(self) -> bool:
        """True while the campaign is paused."""
        return self.state == "paused"


@dataclass
class CampaignReport:
    """The campaign's final result: the batch report of every chunk together.

    Attributes:
        total: items given an outcome (delivered + failed + ambiguous).
        skipped: of the delivered, those an earlier attempt or run had sent
            (a retried chunk, or the same campaign started again).
        not_sent: items never sent because the campaign was cancelled or stopped.
        attempts: send attempts (the last attempt of each chunk's items).
        problems: the failed and ambiguous items (the first `MAX_PROBLEMS`).
        error: what stopped the campaign (a rejected API key...), if anything.
    """

    campaign: str
    total: int = 0
    delivered: int = 0
    failed: int = 0
    ambiguous: int = 0
    skipped: int = 0
    not_sent: int = 0
    attempts: int = 0
    duration: float = 0.0
    cancelled: bool = False
    error: str | None = None
    problems: list[CampaignProblem] = field(default_factory=list[CampaignProblem])

    @property
    def ok(self) -> bool:
        """True when every item of the campaign was delivered."""
        return (
            self.failed == 0
            and self.ambiguous == 0
            and self.not_sent == 0
            and self.error is None
        )


@dataclass
class CampaignState:
    """What a workflow run hands to the next (`continue_as_new`)."""

    finished: list[ChunkReport] = field(default_factory=list[ChunkReport])
    paused: bool = False
    cancelled: bool = False
    rate: float = 0.0
    active: float = 0.0
    """Seconds spent running (not paused) before this run."""
    error: str | None = None
    problems_listed: int = 0
