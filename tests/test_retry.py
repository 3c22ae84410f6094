from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from kommunicate_async import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    RateLimitError,
    ServerError,
)
from kommunicate_async._pipeline.retry import (
    Backoff,
    RetryBudget,
    is_retryable,
    parse_retry_after,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3", 3.0),
        (" 1.5 ", 1.5),
        ("-2", 0.0),
        ("", None),
        (None, None),
        ("soon", None),
        ("nan", None),
    ],
)
def test_retry_after_seconds(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=0.0) == expected


def test_retry_after_http_date() -> None:
    now = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)
    header = format_datetime(datetime(2026, 11, 24, 12, 0, 30, tzinfo=UTC), usegmt=True)
    assert parse_retry_after(header, now=now.timestamp()) == 30.0


def test_backoff_is_capped_exponential_with_a_floor() -> None:
    backoff = Backoff(base=0.5, cap=8.0, rng=random.Random(7))
    for retry, ceiling in [
        (0, 0.5),
        (1, 1.0),
        (2, 2.0),
        (3, 4.0),
        (4, 8.0),
        (10, 8.0),
        (99, 8.0),
    ]:
        for _ in range(50):
            delay = backoff.delay(retry)
            assert ceiling / 2 <= delay <= ceiling


def test_budget_allows_reserve_then_a_fraction_of_attempts() -> None:
    budget = RetryBudget(ratio=0.1, reserve=2, capacity=5)
    assert budget.try_spend() and budget.try_spend()
    assert not budget.try_spend()  # reserve spent
    for _ in range(10):
        budget.record_attempt()
    assert budget.try_spend()  # 10 attempts x 0.1 = one retry
    assert not budget.try_spend()
    for _ in range(1000):
        budget.record_attempt()
    assert budget.balance == 5  # capped: a quiet hour cannot bank a retry storm


def test_budget_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="RetryBudget"):
        RetryBudget(ratio=-1)


@pytest.mark.parametrize(
    ("error", "idempotent", "expected"),
    [
        (RateLimitError(429, None, ""), False, True),
        (APIConnectionError("refused", sent=False), False, True),
        (APIConnectionError("reset"), False, False),
        (APIConnectionError("reset"), True, True),
        (APITimeoutError("slow"), False, False),
        (APITimeoutError("slow"), True, True),
        (ServerError(503, None, ""), False, False),
        (ServerError(503, None, ""), True, True),
        (APIError(400, None, ""), True, False),
    ],
)
def test_what_may_be_retried(
    error: Exception, idempotent: bool, expected: bool
) -> None:
    assert is_retryable(error, idempotent=idempotent) is expected  # type: ignore[arg-type]
