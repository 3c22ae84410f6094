"""The live side, imported only once a provider is set: tracer, instruments, and
the client span of one call."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final, TypeVar

from opentelemetry import context, metrics, trace
from opentelemetry.metrics import NoOpMeterProvider, _internal as metrics_api
from opentelemetry.trace import NoOpTracerProvider, SpanKind, Status, StatusCode

from .._pipeline.transport import URL
from .._version import __version__
from . import _names as n
from ._flows import Flows

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from opentelemetry.metrics import Meter
    from opentelemetry.trace import Span, Tracer

    from .._errors import KommunicateError
    from .._pipeline.call_state import Exchange

__all__ = ["CallTrace", "Telemetry", "build"]

R = TypeVar("R")

_URL_CACHE_LIMIT: Final = 1024
_last: list[tuple[object, object, Telemetry]] = []
"""The providers last built for (held, so compared by identity) and the result."""


def _proxy_meters() -> tuple[type, ...]:
    proxy = getattr(metrics_api, "_ProxyMeterProvider", None)
    return (NoOpMeterProvider,) if proxy is None else (NoOpMeterProvider, proxy)


def _real_tracers(tracers: object) -> bool:
    return isinstance(tracers, trace.TracerProvider) and not isinstance(
        tracers, NoOpTracerProvider | trace.ProxyTracerProvider
    )


def _real_meters(meters: object) -> bool:
    return isinstance(meters, metrics.MeterProvider) and not isinstance(
        meters, _proxy_meters()
    )


def _tracer(tracers: object, traced: bool) -> Tracer:
    if traced and isinstance(tracers, trace.TracerProvider):
        return tracers.get_tracer(n.SCOPE, __version__)
    return trace.NoOpTracer()


def _meter(meters: object, metered: bool) -> Meter:
    if metered and isinstance(meters, metrics.MeterProvider):
        return meters.get_meter(n.SCOPE, __version__)
    return metrics.NoOpMeter(n.SCOPE)


def build(tracers: object, meters: object, *, ask: bool = False) -> Telemetry | None:
    """The telemetry for these providers (None when both are no-op ones).

    `ask`: the API's globals were not found where expected; use its getters.
    """
    if ask:
        tracers, meters = trace.get_tracer_provider(), metrics.get_meter_provider()
    traced, metered = _real_tracers(tracers), _real_meters(meters)
    if not (traced or metered):
        return None
    for known_tracers, known_meters, known in _last:
        if known_tracers is tracers and known_meters is meters:
            return known
    telemetry = Telemetry(_tracer(tracers, traced), _meter(meters, metered))
    _last[:] = [(tracers, meters, telemetry)]  # providers are set once a process
    return telemetry


class Instruments:
    """Every counter and histogram (names in `_names.py`)."""

    def __init__(self, meter: Meter) -> None:
        self.duration = meter.create_histogram(
            n.M_DURATION,
            "s",
            "Duration of calls, retries and waits included (its count: the calls)",
        )
        self.retries = meter.create_counter(
            n.M_RETRIES, "{retry}", "Retries decided, by the error that caused them"
        )
        self.pauses = meter.create_counter(
            n.M_PAUSES, "{pause}", "Session-wide pauses after a 429"
        )
        self.ambiguous = meter.create_counter(
            n.M_AMBIGUOUS, "{call}", "Calls that ended possibly sent (ambiguous)"
        )
        self.items = meter.create_counter(
            n.M_ITEMS, "{item}", "Batch items finished, by outcome"
        )
        self.reconciles = meter.create_counter(
            n.M_RECONCILES, "{read}", "Reconcile reads of batch items, by outcome"
        )
        self.bot_requests = meter.create_counter(
            n.M_BOT_REQUESTS, "{request}", "Requests served by BotApp, by kind"
        )
        self.deadline_misses = meter.create_counter(
            n.M_DEADLINE_MISSES, "{request}", "Bot requests answered with the interim"
        )
        self.fallbacks = meter.create_counter(
            n.M_FALLBACKS, "{reply}", "Bot handler failures answered with the fallback"
        )
        self.handoffs = meter.create_counter(
            n.M_HANDOFFS, "{handoff}", "Handoffs in bot replies, by target kind"
        )
        self.late_replies = meter.create_counter(
            n.M_LATE_REPLIES, "{reply}", "Late bot answers, posted or undelivered"
        )


class CallTrace:
    """What a traced call's layers report: attempts, the last status, retries."""

    __slots__ = (
        "attempts",
        "reasons",
        "span",
        "status",
        "telemetry",
        "template",
        "url",
    )

    def __init__(self, span: Span, telemetry: Telemetry, template: str) -> None:
        self.span = span
        self.telemetry = telemetry
        self.template = template
        self.attempts = 0
        self.status: int | None = None
        self.reasons: list[str] = []
        self.url: object = None
        """Where the last attempt went."""

    def attempted(self, outcome: object, url: object) -> None:
        """One HTTP attempt to `url` ended: a reply, a connection error, or a
        `ResponseValidationError` for a reply over the size cap (its status kept)."""
        self.attempts += 1
        self.url = url
        status = getattr(outcome, "status", None)
        self.status = status if type(status) is int else None

    def retrying(self, error: KommunicateError, delay: float) -> None:
        """A retry was decided after `error`, in `delay` seconds."""
        reason = type(error).__name__
        self.reasons.append(reason)
        self.span.add_event(
            n.EVENT_RETRY,
            {n.ERROR_TYPE: reason, n.RETRY_DELAY: delay, n.ATTEMPTS: self.attempts},
        )
        self.telemetry.instruments.retries.add(
            1, {n.URL_TEMPLATE: self.template, n.ERROR_TYPE: reason}
        )


def url_parts(
    url: object, cache: dict[object, tuple[str, int | None, str]]
) -> tuple[str, int | None, str]:
    """(server.address, server.port, url.full) of a URL: no query, no fragment,
    no user info (they may hold secrets); cached per URL."""
    found = cache.get(url)
    if found is None:
        parsed = url if isinstance(url, URL) else URL(str(url))
        clean = parsed.with_query(None).with_fragment(None).with_user(None)
        found = (parsed.host or "", parsed.port, str(clean))
        if len(cache) >= _URL_CACHE_LIMIT:
            cache.clear()
        cache[url] = found
    return found


class Telemetry(Flows):
    """One tracer and the instruments, with what each hook records."""

    def __init__(self, tracer: Tracer, meter: Meter) -> None:
        self.tracer = tracer
        self.instruments = Instruments(meter)
        self._urls: dict[object, tuple[str, int | None, str]] = {}
        super().__init__()

    def paused(self, seconds: float) -> None:
        """The session paused every call for `seconds` after a 429."""
        del seconds  # the count is what alerts; the wait is in the span's events
        self.instruments.pauses.add(1)

    async def call(
        self,
        retrying: Callable[..., Awaitable[R]],
        exchange: Exchange,
        result_type: type[Any],
        limit: int,
        empty: bool,
    ) -> R:
        """`retrying(exchange, ...)` inside the call's client span."""
        route = exchange.route
        template = route.template or route.path
        span = self.tracer.start_span(
            f"{route.method} {template}",
            kind=SpanKind.CLIENT,
            attributes={n.HTTP_METHOD: route.method, n.URL_TEMPLATE: template},
        )
        record = exchange.trace = CallTrace(span, self, template)
        started = time.perf_counter()
        token = context.attach(trace.set_span_in_context(span))
        try:
            result = await retrying(exchange, result_type, limit, empty, None)
        except BaseException as exc:
            context.detach(token)
            self._ended(exchange, record, started, exc)
            raise
        context.detach(token)
        self._ended(exchange, record, started, None)
        return result

    def _ended(
        self,
        exchange: Exchange,
        record: CallTrace,
        started: float,
        error: BaseException | None,
    ) -> None:
        """End the span, record the duration. Outside the span's context: a
        measurement inside a sampled span would also pay for an exemplar."""
        labels: dict[str, str | int] = {
            n.HTTP_METHOD: exchange.route.method,
            n.URL_TEMPLATE: record.template,
        }
        found = self._where(record, labels)
        if error is not None:
            self._failed(record.span, labels, found, error)
        record.span.set_attributes(found)
        record.span.end()
        self.instruments.duration.record(time.perf_counter() - started, labels)

    def _where(self, record: CallTrace, labels: dict[str, str | int]) -> dict[str, Any]:
        """The span's closing attributes (set in one go: each `set_attributes`
        call costs the SDK a lock and a pass); the metric labels are added to
        `labels`."""
        found: dict[str, Any] = {}
        if record.url:
            address, port, full = url_parts(record.url, self._urls)
            labels[n.SERVER_ADDRESS] = found[n.SERVER_ADDRESS] = address
            found[n.URL_FULL] = full
            if port is not None:
                found[n.SERVER_PORT] = port
        if record.status is not None:
            labels[n.HTTP_STATUS] = found[n.HTTP_STATUS] = record.status
        if record.attempts != 1:  # absent: exactly one attempt
            found[n.ATTEMPTS] = record.attempts
            if record.attempts:  # redirects and token replays are resends too
                found[n.HTTP_RESEND_COUNT] = record.attempts - 1
        if record.reasons:
            found[n.RETRY_REASONS] = record.reasons
        return found

    def _failed(
        self,
        span: Span,
        labels: dict[str, str | int],
        found: dict[str, Any],
        error: BaseException,
    ) -> None:
        """The error's type (never its text: it may quote a body)."""
        kind = type(error).__name__
        labels[n.ERROR_TYPE] = found[n.ERROR_TYPE] = kind
        span.set_status(Status(StatusCode.ERROR, kind))
        if getattr(error, "ambiguous", False):
            found[n.AMBIGUOUS] = True
            self.instruments.ambiguous.add(1, labels)
