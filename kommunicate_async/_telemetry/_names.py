"""Span, attribute and metric names (the table in docs/guides/observability.md).

Standard names follow the OpenTelemetry semantic conventions (HTTP client spans,
messaging spans); the library's own live under `kommunicate.`.
"""

from __future__ import annotations

from typing import Final

SCOPE: Final = "kommunicate_async"
"""The instrumentation scope of every tracer and meter."""

# -- standard attributes (semantic conventions) --------------------------------------
HTTP_METHOD: Final = "http.request.method"
HTTP_STATUS: Final = "http.response.status_code"
HTTP_RESEND_COUNT: Final = "http.request.resend_count"
URL_TEMPLATE: Final = "url.template"
URL_FULL: Final = "url.full"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
ERROR_TYPE: Final = "error.type"
MESSAGING_SYSTEM: Final = "messaging.system"
MESSAGING_OPERATION_TYPE: Final = "messaging.operation.type"
MESSAGING_OPERATION_NAME: Final = "messaging.operation.name"
MESSAGING_DESTINATION: Final = "messaging.destination.name"
MESSAGING_MESSAGE_ID: Final = "messaging.message.id"
MESSAGING_BATCH_COUNT: Final = "messaging.batch.message_count"

# -- the library's attributes ----------
ATTEMPTS: Final = "kommunicate.attempts"
RETRY_REASONS: Final = "kommunicate.retry.reasons"
RETRY_DELAY: Final = "kommunicate.retry.delay"
AMBIGUOUS: Final = "kommunicate.ambiguous"
OUTCOME: Final = "kommunicate.outcome"
BATCH_INDEX: Final = "kommunicate.batch.index"
RECONCILE_OUTCOME: Final = "kommunicate.reconcile.outcome"
BOT_KIND: Final = "kommunicate.bot.kind"
BOT_ID: Final = "kommunicate.bot.id"
BOT_DEADLINE_MISSED: Final = "kommunicate.bot.deadline_missed"
HANDOFF_TARGET: Final = "kommunicate.handoff.target"

# -- events ----------
EVENT_RETRY: Final = "kommunicate.retry"
EVENT_RECONCILE: Final = "kommunicate.reconcile"
EVENT_DEADLINE_MISS: Final = "kommunicate.bot.deadline_miss"
EVENT_FALLBACK: Final = "kommunicate.bot.fallback"

# -- metrics ----------
M_DURATION: Final = "kommunicate.client.request.duration"
M_RETRIES: Final = "kommunicate.client.retries"
M_PAUSES: Final = "kommunicate.client.rate_limit.pauses"
M_AMBIGUOUS: Final = "kommunicate.client.ambiguous"
M_ITEMS: Final = "kommunicate.batch.items"
M_RECONCILES: Final = "kommunicate.batch.reconciles"
M_BOT_REQUESTS: Final = "kommunicate.bot.requests"
M_DEADLINE_MISSES: Final = "kommunicate.bot.deadline_misses"
M_FALLBACKS: Final = "kommunicate.bot.fallbacks"
M_HANDOFFS: Final = "kommunicate.bot.handoffs"
M_LATE_REPLIES: Final = "kommunicate.bot.late_replies"
