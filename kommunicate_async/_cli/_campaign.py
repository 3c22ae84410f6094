"""`kommunicate-async campaign ...`: durable campaigns on Temporal.

`start`, `status`, `pause`, `resume`, `cancel` and `set-rate` talk to Temporal
(`--address`, else TEMPORAL_ADDRESS, else localhost:7233); `worker` runs a
campaign worker (Temporal + Redis + a Kommunicate session from the usual
flags and variables). The parser part imports nothing from temporalio, so the
rest of the CLI works without the `temporal` extra.
"""

from __future__ import annotations

import asyncio
import os
import signal
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final

from .._errors import CoordinationError, InvalidRequestError

if TYPE_CHECKING:
    import argparse

    from temporalio.client import Client

    from ..scaleout.temporal import CampaignHandle, CampaignProgress, CampaignReport
    from ._output import Printer

__all__ = ["add_campaign_parser", "run_campaign"]

EXIT_INCOMPLETE: Final = 5
_DEFAULT_ADDRESS: Final = "localhost:7233"
_DEFAULT_REDIS: Final = "redis://localhost:6379/0"


def add_campaign_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add `campaign` and its actions to the top-level subparsers."""
    import argparse

    temporal = argparse.ArgumentParser(add_help=False)
    temporal.add_argument(
        "--address",
        default=None,
        help="Temporal frontend host:port "
        f"(else TEMPORAL_ADDRESS, else {_DEFAULT_ADDRESS})",
    )
    temporal.add_argument(
        "--namespace",
        default=None,
        help="Temporal namespace (else TEMPORAL_NAMESPACE, else default)",
    )
    temporal.add_argument(
        "--task-queue",
        default="kommunicate-campaigns",
        help="the task queue of the campaign workers",
    )
    parents = [common, temporal]
    campaign = sub.add_parser("campaign", help="durable campaigns on Temporal")
    actions = campaign.add_subparsers(dest="action", required=True, metavar="ACTION")
    start = actions.add_parser(
        "start", parents=parents, help="start a campaign (or attach to it)"
    )
    start.add_argument("file", help="the JSONL file (the same path on every worker)")
    start.add_argument("--campaign", required=True, metavar="ID", help="campaign id")
    start.add_argument(
        "--rate", type=float, required=True, metavar="R", help="sends a second, in all"
    )
    start.add_argument(
        "--chunk-size", type=int, default=1000, metavar="N", help="items a chunk"
    )
    start.add_argument(
        "--parallel", type=int, default=8, metavar="N", help="chunks at once"
    )
    start.add_argument(
        "--concurrency", type=int, default=16, metavar="N", help="sends a chunk"
    )
    start.add_argument(
        "--settle", type=float, default=3.0, metavar="SECONDS", help="reconcile wait"
    )
    start.add_argument(
        "--heartbeat-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="retry a chunk elsewhere after this long without a heartbeat",
    )
    start.add_argument(
        "--wait", action="store_true", help="wait for the end and print the report"
    )
    for name, text in (
        ("status", "progress: delivered, failed, ambiguous, remaining, rate, ETA"),
        ("pause", "stop sending until resume"),
        ("resume", "carry on after a pause"),
        ("cancel", "stop for good; unsent items are reported not sent"),
        ("result", "wait for the end and print the report"),
    ):
        action = actions.add_parser(name, parents=parents, help=text)
        action.add_argument("campaign", metavar="ID", help="campaign id")
    rate = actions.add_parser("set-rate", parents=parents, help="change the rate")
    rate.add_argument("campaign", metavar="ID", help="campaign id")
    rate.add_argument("rate", type=float, metavar="R", help="sends a second, in all")
    worker = actions.add_parser(
        "worker", parents=parents, help="run a campaign worker (Ctrl-C stops it)"
    )
    worker.add_argument(
        "--redis-url",
        default=None,
        help=f"the campaign's Redis (else REDIS_URL, else {_DEFAULT_REDIS})",
    )
    worker.add_argument(
        "--max-chunks", type=int, default=4, metavar="N", help="chunks at once here"
    )


async def run_campaign(args: argparse.Namespace, out: Printer) -> int:
    """Run one `campaign` action."""
    try:
        from temporalio.service import RPCError
    except ImportError:
        raise InvalidRequestError(
            "campaigns need the temporal extra: "
            'pip install "kommunicate-async[temporal]"'
        ) from None
    address = args.address or os.environ.get("TEMPORAL_ADDRESS") or _DEFAULT_ADDRESS
    try:
        client = await _connect(args, address)
        if args.action == "worker":
            return await _worker(args, out, client)
        return await _act(args, out, client)
    except RPCError as exc:
        if exc.status.name == "NOT_FOUND":
            raise InvalidRequestError(
                f"no campaign {getattr(args, 'campaign', '')!r} at {address}"
            ) from None
        raise CoordinationError(f"Temporal at {address}: {exc.message}") from None


async def _connect(args: argparse.Namespace, address: str) -> Client:
    from temporalio.client import Client

    namespace = args.namespace or os.environ.get("TEMPORAL_NAMESPACE") or "default"
    try:
        return await Client.connect(address, namespace=namespace)
    except RuntimeError as exc:
        raise CoordinationError(f"cannot reach Temporal at {address}: {exc}") from None


async def _act(args: argparse.Namespace, out: Printer, client: Client) -> int:
    from ..scaleout.temporal import campaign_handle, start_campaign

    if args.action == "start":
        handle = await start_campaign(
            client,
            args.campaign,
            args.file,
            rate=args.rate,
            chunk_size=args.chunk_size,
            parallel=args.parallel,
            concurrency=args.concurrency,
            task_queue=args.task_queue,
            settle=args.settle,
            heartbeat_timeout=args.heartbeat_timeout,
        )
        if not args.wait:
            out.line(f"campaign {handle.campaign} started (or already running)")
            out.document({"campaign": handle.campaign, "run_id": handle.handle.run_id})
            return 0
        return _report(await handle.result(), out)
    handle = campaign_handle(client, args.campaign)
    if args.action == "result":
        return _report(await handle.result(), out)
    if args.action != "status":
        await _steer(handle, args)
    _progress(await handle.progress(), out)
    return 0


async def _steer(handle: CampaignHandle, args: argparse.Namespace) -> None:
    if args.action == "pause":
        await handle.pause()
    elif args.action == "resume":
        await handle.resume()
    elif args.action == "cancel":
        await handle.cancel()
    else:
        await handle.set_rate(args.rate)


def _progress(progress: CampaignProgress, out: Printer) -> None:
    from ._send_batch import _clock  # pyright: ignore[reportPrivateUsage]

    eta = "-" if progress.eta is None else _clock(progress.eta)
    out.line(
        f"{progress.campaign}: {progress.state} | {progress.done}/{progress.total} "
        f"delivered {progress.delivered} failed {progress.failed} ambiguous "
        f"{progress.ambiguous} not sent {progress.not_sent} | remaining "
        f"{progress.remaining} | {progress.rate:,.0f}/s (limit "
        f"{progress.rate_limit:g}/s) | ETA {eta}"
    )
    out.document({"progress": {**_plain(progress), "done": progress.done}})


def _report(report: CampaignReport, out: Printer) -> int:
    out.line(
        f"{report.campaign}: {report.total} items in {report.duration:.1f}s: "
        f"{report.delivered} delivered ({report.skipped} earlier), {report.failed} "
        f"failed, {report.ambiguous} ambiguous, {report.not_sent} not sent"
        + (" (cancelled)" if report.cancelled else "")
    )
    if report.error is not None:
        out.line(f"  stopped: {report.error}")
    for problem in report.problems[:20]:
        out.line(
            f"  chunk {problem.chunk} item {problem.index}: {problem.status}: "
            f"{problem.error}"
        )
    out.document({"report": _plain(report)})
    return 0 if report.ok else EXIT_INCOMPLETE


def _plain(value: object) -> dict[str, Any]:
    import dataclasses

    data: dict[str, Any] = dataclasses.asdict(value)  # type: ignore[call-overload]
    return data


async def _worker(args: argparse.Namespace, out: Printer, client: Client) -> int:
    from redis.asyncio import Redis

    from ..scaleout.temporal import campaign_worker
    from ._commands import session_from_args

    url = args.redis_url or os.environ.get("REDIS_URL") or _DEFAULT_REDIS
    redis: Redis = Redis.from_url(url)  # pyright: ignore[reportUnknownMemberType]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError, RuntimeError):  # not the main thread
            loop.add_signal_handler(signum, stop.set)
    try:
        async with session_from_args(args) as km:
            worker = campaign_worker(
                client,
                km,
                redis,
                task_queue=args.task_queue,
                max_chunks=args.max_chunks,
            )
            async with worker:
                out.line(f"campaign worker on {args.task_queue} (Ctrl-C stops it)")
                out.document({"worker": args.task_queue, "pid": os.getpid()})
                await stop.wait()
    finally:
        await redis.aclose()
    return 0
