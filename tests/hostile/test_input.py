"""Bad input is an `InvalidRequestError` before any byte is sent; nothing is altered.

Found by an attack on the library (issue #9): a clientGroupId with a lone surrogate
reached the wire as another conversation's id, and cyclic metadata raised
RecursionError.
"""

from __future__ import annotations

import string
from typing import TYPE_CHECKING, Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from kommunicate_async import InvalidRequestError
from kommunicate_async._metadata import MAX_DEPTH, stringify_metadata
from kommunicate_async.resources.messages import send_body

if TYPE_CHECKING:
    from kommunicate_async import KommunicateSession
    from tests.mockapi import MockApi

SURROGATE_ID = "vip\udc00-42"


def cyclic() -> dict[str, Any]:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    return loop


def deep(levels: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(levels):
        value = [value]
    return value


async def test_a_lone_surrogate_in_a_client_id_never_reaches_the_wire(
    api: MockApi, km: KommunicateSession
) -> None:
    # Before: yarl dropped the surrogate and "vip-42" (someone else's) was changed.
    with pytest.raises(InvalidRequestError, match="surrogate"):
        await km.assignees.change(SURROGATE_ID, "agent@x.io")
    with pytest.raises(InvalidRequestError, match="surrogate"):
        await km.conversations.get(SURROGATE_ID)
    with pytest.raises(InvalidRequestError, match="surrogate"):
        await km.assignees.change(5, "agent\udc00@x.io")
    assert api.count() == 0


@pytest.mark.parametrize(
    ("text", "metadata"),
    [
        ("hi \ud800 there", None),
        ("hi", {"note": "x\udfff"}),
        ("hi", {"k\udc80": "v"}),
        ("hi", {"nested": {"a": ["\ud83d"]}}),
        ("hi", {"loop": cyclic()}),
        ("hi", {"deep": deep(MAX_DEPTH + 1)}),
        ("hi", {"deep": deep(10_000)}),
    ],
)
async def test_bad_text_or_metadata_sends_nothing(
    api: MockApi, km: KommunicateSession, text: str, metadata: dict[str, Any] | None
) -> None:
    with pytest.raises(InvalidRequestError):
        await km.messages.send(7, text, metadata=metadata)
    assert api.count() == 0


def test_metadata_at_the_depth_limit_is_fine() -> None:
    meta = stringify_metadata({"ok": deep(MAX_DEPTH - 1)})
    assert meta["ok"] == "[" * MAX_DEPTH + "]" * MAX_DEPTH


def test_a_shared_value_is_not_a_cycle() -> None:
    shared = {"a": 1}
    assert stringify_metadata({"x": [shared, shared]}) == {"x": '[{"a":1},{"a":1}]'}


@pytest.mark.parametrize(
    "info", [{"loop": cyclic()}, {"deep": deep(10_000)}, {"s": "\udc00"}, ["a"]]
)
async def test_update_info_checks_before_reading_the_conversation(
    api: MockApi, km: KommunicateSession, info: Any
) -> None:
    # Before: update_info read the conversation, then failed on the bad info.
    with pytest.raises(InvalidRequestError):
        await km.conversations.update_info(5, info)
    assert api.count() == 0


# -- fuzzing: arguments produce an InvalidRequestError or exactly-encoded bytes -------

ids = st.text(min_size=0, max_size=12) | st.integers() | st.none() | st.booleans()
texts = st.text(max_size=40)
leaves = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=12,
)
metadatas = st.none() | st.dictionaries(
    st.text(max_size=6) | st.integers(), values, max_size=4
)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ref=ids, text=texts, sender=ids, metadata=metadatas)
def test_fuzzed_send_arguments(ref: Any, text: Any, sender: Any, metadata: Any) -> None:
    try:
        body = send_body(ref, text, sender, metadata)
    except InvalidRequestError:
        return
    sent = msgspec.json.decode(body)  # valid UTF-8 JSON, exactly what we meant
    assert sent["message"] == text
    assert sent["fromUserName"] == sender
    assert sent.get("groupId", sent.get("clientGroupId")) == ref
    assert all(isinstance(v, str) for v in sent.get("metadata", {}).values())
    text.encode()  # what went out was valid Unicode, unaltered


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(client_id=st.text(alphabet=string.printable + "\udc00\ud800é€", max_size=10))
def test_fuzzed_client_ids_are_kept_exactly_or_refused(client_id: str) -> None:
    try:
        body = send_body(client_id, "hi", "bot", None)
    except InvalidRequestError:
        return
    assert msgspec.json.decode(body)["clientGroupId"] == client_id
