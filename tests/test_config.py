from __future__ import annotations

from typing import Any

import pytest

from kommunicate_async import (
    ConfigurationError,
    ConversationDefaults,
    InvalidRequestError,
    Timeouts,
)
from kommunicate_async._config import DEFAULT_BASE_URL, DEFAULT_CHAT_URL, resolve_config

SECRET = "sk-live-very-secret"


def resolve(env: dict[str, str] | None = None, **kw: Any) -> Any:
    args: dict[str, Any] = {
        "app_id": None,
        "base_url": None,
        "chat_url": None,
        "on_behalf_of": "bot",
        "timeout": Timeouts(),
        "max_retries": 2,
        "max_connections": 10,
    }
    args.update(kw)
    api_key = args.pop("api_key", None)
    return resolve_config(api_key, env=env or {}, **args)


def test_arguments_win_over_environment() -> None:
    config = resolve_config(
        "arg-key",
        app_id="arg-app",
        base_url="https://b.test/",
        chat_url=None,
        on_behalf_of="bot",
        timeout=5,
        max_retries=0,
        max_connections=1,
        env={
            "KOMMUNICATE_API_KEY": "env-key",
            "KOMMUNICATE_APP_ID": "env-app",
            "KOMMUNICATE_CHAT_URL": "https://chat-eu.kommunicate.io",
        },
    )
    assert (config.api_key, config.app_id) == ("arg-key", "arg-app")
    assert config.base_url == "https://b.test"  # trailing slash dropped
    assert config.chat_url == "https://chat-eu.kommunicate.io"
    assert config.timeouts == Timeouts(connect=5, attempt=5, total=None)


def test_environment_and_defaults() -> None:
    config = resolve_config(
        None,
        app_id=None,
        base_url=None,
        chat_url=None,
        on_behalf_of="bot",
        timeout=Timeouts(),
        max_retries=2,
        max_connections=100,
        env={"KOMMUNICATE_API_KEY": " env-key ".strip(), "KOMMUNICATE_BASE_URL": ""},
    )
    assert config.api_key == "env-key"
    assert (config.base_url, config.chat_url) == (DEFAULT_BASE_URL, DEFAULT_CHAT_URL)
    assert config.app_id is None


def test_missing_key_is_a_clear_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="KOMMUNICATE_API_KEY"):
        resolve()


def test_repr_never_shows_the_key() -> None:
    config = resolve(api_key=SECRET)
    assert SECRET not in repr(config)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        pytest.param({"api_key": "a\r\nX-Evil: 1"}, "control", id="crlf-key"),
        pytest.param(
            {"api_key": "k", "on_behalf_of": "bo\nt"}, "control", id="crlf-oui"
        ),
        pytest.param({"api_key": "k", "app_id": "é"}, "ASCII", id="non-ascii-app"),
        pytest.param({"api_key": "k", "base_url": "ftp://x"}, "http", id="scheme"),
        pytest.param(
            {"api_key": "k", "base_url": "https://u:p@x.io"}, "credentials", id="creds"
        ),
        pytest.param(
            {"api_key": "k", "chat_url": "https://x.io/?a=1"}, "query", id="query"
        ),
        pytest.param({"api_key": "k", "max_retries": -1}, "max_retries", id="retries"),
        pytest.param(
            {"api_key": "k", "max_retries": True}, "max_retries", id="retries-bool"
        ),
        pytest.param(
            {"api_key": "k", "max_connections": 0}, "max_connections", id="pool"
        ),
        pytest.param({"api_key": "k", "timeout": "5"}, "timeout", id="timeout-str"),
    ],
)
def test_bad_settings_raise_configuration_error(kw: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        resolve(**kw)


@pytest.mark.parametrize(
    "kw", [{"connect": 0}, {"attempt": -1}, {"total": float("inf")}, {"connect": True}]
)
def test_timeouts_must_be_positive_numbers(kw: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        Timeouts(**kw)


def test_conversation_defaults_are_checked_and_frozen() -> None:
    defaults = ConversationDefaults(
        agent_ids=["a@x", "a@x", "b@x"], bot_ids="bot-1", team_id=7
    )
    assert defaults.agent_ids == ("a@x", "b@x")
    assert defaults.bot_ids == ("bot-1",)
    assert defaults.team_id == "7"
    with pytest.raises(AttributeError):
        defaults.assignee = "z"  # type: ignore[misc]
    with pytest.raises(InvalidRequestError):
        ConversationDefaults(assignee="bad\nid")
    with pytest.raises(InvalidRequestError):
        ConversationDefaults(skip_routing="yes")  # type: ignore[arg-type]


def test_retries_sets_the_back_off_and_rejects_nonsense() -> None:
    from kommunicate_async import KommunicateSession, Retries

    km = KommunicateSession("k", retries=Retries(backoff_base=0.2, backoff_max=0.4))
    backoff = km._client._backoff  # pyright: ignore[reportPrivateUsage]
    assert (backoff.base, backoff.cap) == (0.2, 0.4)
    assert 0.2 <= backoff.delay(5) <= 0.4  # capped, with a floor of half the cap
    for bad in (
        {"backoff_base": -1},
        {"backoff_max": float("inf")},
        {"backoff_base": True},
        {"backoff_base": 2, "backoff_max": 1},
    ):
        with pytest.raises(ConfigurationError, match="Retries"):
            Retries(**bad)
    with pytest.raises(ConfigurationError, match="retries must be a Retries"):
        KommunicateSession("k", retries=0.5)  # type: ignore[arg-type]
