from __future__ import annotations

import pytest

from kommunicate_async import InvalidRequestError
from kommunicate_async._validate import (
    check_header_value,
    check_id,
    check_ids,
    check_int,
    check_text,
)


@pytest.mark.parametrize(
    "bad", [None, 3, "", "   ", "a\rb", "a\nb", "a\x00b", "a\x7fb"]
)
def test_check_id_refuses(bad: object) -> None:
    with pytest.raises(InvalidRequestError):
        check_id(bad, "id")


def test_header_values_must_be_printable_ascii() -> None:
    assert check_header_value("agent@x.io", "h") == "agent@x.io"
    with pytest.raises(InvalidRequestError, match="ASCII"):
        check_header_value("agënt", "h")


def test_check_ids_keeps_order_drops_repeats_and_wraps_a_str() -> None:
    assert check_ids(["b", "a", "b"], "ids") == ["b", "a"]
    assert check_ids("solo", "ids") == ["solo"]
    assert check_ids([], "ids", allow_empty=True) == []
    for bad in ([], 5, [1], b"ab", ["ok", ""]):
        with pytest.raises(InvalidRequestError):
            check_ids(bad, "ids")


@pytest.mark.parametrize("bad", [None, 5, "", " \n ", "a\x00"])
def test_check_text_refuses(bad: object) -> None:
    with pytest.raises(InvalidRequestError):
        check_text(bad)


def test_check_text_allows_newlines() -> None:
    assert check_text("line 1\nline 2") == "line 1\nline 2"


def test_check_int() -> None:
    assert check_int(5, "n", minimum=1) == 5
    for bad in (True, 1.0, "1", 0):
        with pytest.raises(InvalidRequestError):
            check_int(bad, "n", minimum=1)


def test_ids_fast_path_and_the_rest() -> None:
    assert check_id("agent@acme.io", "sender") == "agent@acme.io"
    assert check_id("ünïcode-ok", "sender") == "ünïcode-ok"
    assert check_id("a\u2028b", "sender") == "a\u2028b"  # not printable, not control
    for bad in ("", "   ", "a\rb", "a\x7f", "\t"):
        with pytest.raises(InvalidRequestError):
            check_id(bad, "sender")
