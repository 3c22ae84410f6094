"""OpenTelemetry, built in and free when off (docs/guides/observability.md).

The library depends on `opentelemetry-api` only (the `otel` extra), never on the
SDK, and never imports it itself: `active()` looks in `sys.modules` for the API
the application imported, and at the global providers it set. With the extra
absent, or no provider set, that is two dict lookups and None: the hot path does
nothing more (benchmarks/README.md). A provider set later is seen on the next
call (the check runs on every call; only what it finds is cached).

The hooks below are what the rest of the package calls, one line each, at call
boundaries; each is a no-op until `active()` finds a provider.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .._errors import KommunicateError
    from ..bots._deliver import Deliverer
    from ..bots._payloads import BotRequest, WebhookMessage
    from ..bots._reply import Reply
    from ..models.message import Message
    from ..rich._message import RichMessage
    from ._live import Telemetry

__all__ = [
    "active",
    "late_post",
    "note_bot_request",
    "note_deadline_miss",
    "note_fallback",
    "note_reconcile",
    "note_replies",
    "note_webhook",
]

_modules: Final = sys.modules
_UNKNOWN: Final = object()
"""A provider attribute the API no longer has: asked through its getters."""


class _Seen:
    """The providers last seen and what was built for them."""

    __slots__ = ("meters", "telemetry", "tracers")

    def __init__(self) -> None:
        self.tracers: object = None
        self.meters: object = None
        self.telemetry: Telemetry | None = None


_seen: Final = _Seen()


def active() -> Telemetry | None:
    """The live telemetry once the application set a tracer or meter provider;
    None (cheaply) otherwise.

    Reads the API's own globals (`opentelemetry.trace._TRACER_PROVIDER`, None
    until `set_tracer_provider`): `get_tracer_provider()` would look the
    environment up on every call. tests/otel pins that these names exist.
    """
    if "opentelemetry" not in _modules:  # the common case: one lookup, no calls
        return None  # (importing any of its modules imports the package first)
    trace = _modules.get("opentelemetry.trace")
    metrics = _modules.get("opentelemetry.metrics._internal")
    tracers = None if trace is None else getattr(trace, "_TRACER_PROVIDER", _UNKNOWN)
    meters = None if metrics is None else getattr(metrics, "_METER_PROVIDER", _UNKNOWN)
    if tracers is None and meters is None:
        return None
    seen = _seen
    if tracers is seen.tracers and meters is seen.meters:
        return seen.telemetry
    return _rebuild(tracers, meters)


def _rebuild(tracers: object, meters: object) -> Telemetry | None:
    from ._live import build

    telemetry = build(
        None if tracers is _UNKNOWN else tracers,
        None if meters is _UNKNOWN else meters,
        ask=_UNKNOWN in (tracers, meters),
    )
    if _UNKNOWN not in (tracers, meters):  # else ask again next time
        _seen.tracers, _seen.meters, _seen.telemetry = tracers, meters, telemetry
    return telemetry


# -- hooks: one line at a call boundary each, nothing when off -------------------------


def note_reconcile(found: Message | KommunicateError | None) -> None:
    """A batch item's reconcile read ended (`found`: the message, an error, or
    None for absent)."""
    telemetry = active()
    if telemetry is not None:
        telemetry.reconciled(found)


def note_bot_request(request: BotRequest) -> None:
    """The bot request being served: its key and conversation on the span."""
    telemetry = active()
    if telemetry is not None:
        telemetry.bot_request_seen(request)


def note_webhook(message: WebhookMessage) -> None:
    """A webhook message being served: linked to our late post it echoes."""
    telemetry = active()
    if telemetry is not None:
        telemetry.webhook_seen(message)


def note_deadline_miss() -> None:
    """A bot request answered with the interim: its handler missed the deadline."""
    telemetry = active()
    if telemetry is not None:
        telemetry.deadline_missed()


def note_fallback() -> None:
    """A bot handler failed: the fallback answers."""
    telemetry = active()
    if telemetry is not None:
        telemetry.fell_back()


def note_replies(replies: Sequence[Reply | RichMessage]) -> None:
    """A bot handler's replies (handoffs among them are counted)."""
    telemetry = active()
    if telemetry is not None:
        telemetry.replied(replies)


async def late_post(
    deliverer: Deliverer,
    request: BotRequest,
    replies: Sequence[Reply | RichMessage],
) -> None:
    """`deliverer.post(request, replies)`, traced as a span linked to the bot
    request's span when telemetry is on."""
    telemetry = active()
    if telemetry is None:
        await deliverer.post(request, replies)
        return
    await telemetry.late_post(deliverer, request, replies)
