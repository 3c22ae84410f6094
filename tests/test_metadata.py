from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from enum import IntEnum

import pytest

from kommunicate_async import InvalidRequestError, MetadataKey
from kommunicate_async._metadata import merge_info, parse_info, stringify_metadata


class Level(IntEnum):
    HIGH = 2


def test_values_become_strings_and_nested_values_json() -> None:
    assert stringify_metadata(
        {
            "s": "x",
            "t": True,
            "f": False,
            "i": 3,
            "x": 1.5,
            "nested": {"b": [1, "y", None]},
            "list": [1, 2],
            "skip": None,
            "d": datetime.date(2026, 1, 2),
            "u": uuid.UUID(int=1),
            "dec": Decimal("1.10"),
            "e": Level.HIGH,
            MetadataKey.SKIP_BOT: "true",
        }
    ) == {
        "s": "x",
        "t": "true",
        "f": "false",
        "i": "3",
        "x": "1.5",
        "nested": '{"b":[1,"y",null]}',
        "list": "[1,2]",
        "d": "2026-01-02",
        "u": "00000000-0000-0000-0000-000000000001",
        "dec": "1.10",
        "e": "2",
        "skipBot": "true",
    }


def test_rich_message_payload_is_stringified() -> None:
    meta = stringify_metadata(
        {
            "contentType": "300",
            "templateId": "6",
            "payload": [{"title": "Yes", "message": "Yes"}],
        }
    )
    assert meta["payload"] == '[{"title":"Yes","message":"Yes"}]'


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param({"n": float("nan")}, id="nan"),
        pytest.param({"n": {"deep": [float("inf")]}}, id="nested-inf"),
        pytest.param({"o": object()}, id="object"),
        pytest.param({1: "x"}, id="int-key"),
        pytest.param({"": "x"}, id="empty-key"),
        pytest.param(["a"], id="not-a-mapping"),
    ],
)
def test_unencodable_metadata_is_refused(bad: object) -> None:
    with pytest.raises(InvalidRequestError):
        stringify_metadata(bad)  # type: ignore[arg-type]


def test_none_is_empty() -> None:
    assert stringify_metadata(None) == {}


def test_info_merge_keeps_other_keys_and_none_deletes() -> None:
    raw = '{"plan":"gold","orders":3,"old":true}'
    merged = merge_info(raw, {"orders": 4, "old": None, "tags": ["a"]})
    assert parse_info(merged) == {"plan": "gold", "orders": 4, "tags": ["a"]}


@pytest.mark.parametrize("raw", [None, "", "not json", "[1,2]", '"str"'])
def test_parse_info_tolerates_non_objects(raw: str | None) -> None:
    assert parse_info(raw) == {}


@pytest.mark.parametrize(
    "changes", [{"a": float("nan")}, {3: "x"}, {"a": object()}, "not-a-mapping"]
)
def test_merge_info_refuses_bad_changes(changes: object) -> None:
    with pytest.raises(InvalidRequestError):
        merge_info(None, changes)  # type: ignore[arg-type]
