from __future__ import annotations

import base64

import anyio
import msgspec
import pytest

from kommunicate_async._pipeline.tokens import TokenStore, UserCredential, token_expiry


def jwt(claims: dict[str, object]) -> str:  # exact claims, none added
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return ".".join(
        [part(b'{"alg":"HS256"}'), part(msgspec.json.encode(claims)), "sig"]
    )


def test_expiry_from_created_at_and_valid_upto() -> None:
    token = jwt({"createdAtTime": 1_000_000, "validUpto": 30})
    assert token_expiry(token, now=1_000.0) == (1_000.0 + 1800, 1800.0)


def test_expiry_is_anchored_on_our_clock_when_the_server_clock_runs_ahead() -> None:
    token = jwt({"createdAtTime": 9_000_000, "validUpto": "1"})
    assert token_expiry(token, now=100.0) == (160.0, 60.0)


def test_expiry_falls_back_to_exp_then_unknown() -> None:
    assert token_expiry(jwt({"exp": 500}), now=100.0) == (500.0, 400.0)
    assert token_expiry(jwt({"sub": "u"}), now=100.0) == (None, None)
    assert token_expiry("not-a-jwt", now=1.0) == (None, None)
    assert token_expiry("a.!!!.c", now=1.0) == (None, None)


def test_credential_repr_hides_secrets() -> None:
    cred = UserCredential(user_id="u", device_key="dk-secret", token="tok-secret")
    assert "secret" not in repr(cred)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


async def test_one_refresh_for_many_waiters() -> None:
    clock = Clock()
    calls: list[str] = []

    async def refresher(cred: UserCredential) -> str:
        calls.append(cred.user_id)
        await anyio.sleep(0.01)
        return jwt({"createdAtTime": int(clock.now * 1000), "validUpto": 10})

    store = TokenStore(refresher, clock=clock)
    cred = store.put(
        "u", device_key="dk", token=jwt({"createdAtTime": 1_000_000, "validUpto": 1})
    )
    assert cred.is_fresh(clock.now)
    clock.now += 58  # inside the refresh margin (10% of 60 s)
    tokens: list[str] = []

    async def use() -> None:
        tokens.append(await store.fresh_token(cred))

    async with anyio.create_task_group() as tg:
        for _ in range(50):
            tg.start_soon(use)
    assert calls == ["u"]
    assert store.refresh_count == 1
    assert len(set(tokens)) == 1 and tokens[0] == cred.token


async def test_rejected_token_is_replaced_once() -> None:
    async def refresher(_cred: UserCredential) -> str:
        return "new.token.x"

    store = TokenStore(refresher)
    cred = store.put("u", device_key="dk", token="old.token.x")
    results = [await store.replace_rejected(cred, "old.token.x") for _ in range(3)]
    assert results == ["new.token.x"] * 3
    assert store.refresh_count == 1


def test_store_bookkeeping() -> None:
    async def refresher(_cred: UserCredential) -> str:
        raise AssertionError("not called")

    store = TokenStore(refresher)
    store.put("u", device_key="dk", token="t.t.t")
    assert "u" in store and len(store) == 1 and store.get("u") is not None
    store.forget("u")
    assert store.get("u") is None


@pytest.mark.parametrize("token", ["a.b.c", "x"])
def test_token_without_claims_counts_as_fresh(token: str) -> None:
    cred = UserCredential(user_id="u", device_key="d", token="")
    cred.set_token(token, now=0.0)
    assert cred.is_fresh(10**12)
