from __future__ import annotations

from kommunicate_async._paging import NewestFirstCursor


def make() -> NewestFirstCursor[tuple[str, int | None]]:
    return NewestFirstCursor[tuple[str, int | None]](lambda i: i[0], lambda i: i[1])


def test_cursor_moves_one_ms_past_the_oldest_and_drops_repeats() -> None:
    cursor = make()
    assert cursor.take([("a", 5), ("b", 4), ("c", 4)]) == [("a", 5), ("b", 4), ("c", 4)]
    assert (cursor.end_time, cursor.moved) == (5, True)
    # An exclusive server returns everything < 5: b and c again, then older ones.
    assert cursor.take([("b", 4), ("c", 4), ("d", 4), ("e", 3)]) == [("d", 4), ("e", 3)]
    assert (cursor.end_time, cursor.moved) == (4, True)
    # An inclusive server answering <= 4 repeats d; e was at the new boundary.
    assert cursor.take([("d", 4), ("e", 3)]) == []
    assert cursor.moved is False


def test_cursor_stays_when_fresh_items_share_the_boundary() -> None:
    cursor = make()
    cursor.take([("a", 2), ("b", 2)])
    assert cursor.take([("a", 2), ("b", 2), ("c", 2)]) == [("c", 2)]
    assert (cursor.end_time, cursor.moved) == (3, False)


def test_items_without_time_do_not_move_the_cursor() -> None:
    cursor = make()
    assert cursor.take([("a", None)]) == [("a", None)]
    assert (cursor.end_time, cursor.moved) == (None, False)
