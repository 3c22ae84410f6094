"""The session's one-timer watchdog: overdue attempts time out, others do not."""

from __future__ import annotations

import asyncio

import pytest

from kommunicate_async._pipeline.watchdog import Watchdog


async def test_an_overdue_task_is_cancelled_and_marked() -> None:
    dog = Watchdog()
    marks = []

    async def attempt(seconds: float, limit: float) -> str:
        watch = dog.watch(limit)
        marks.append(watch)
        try:
            await asyncio.sleep(seconds)
            return "done"
        except asyncio.CancelledError:
            task = asyncio.current_task()
            assert task is not None
            if watch.fired and task.uncancel() == 0:
                return "timed out"
            raise
        finally:
            dog.unwatch(watch)

    results = list(
        await asyncio.gather(attempt(0.01, 1.0), attempt(1.0, 0.05), attempt(0.02, 0.5))
    )
    assert results == ["done", "timed out", "done"]
    assert [m.fired for m in marks] == [False, True, False]
    assert len(dog) == 0


async def test_an_outside_cancel_is_not_a_timeout() -> None:
    dog = Watchdog()

    async def attempt() -> None:
        watch = dog.watch(10)
        try:
            await asyncio.sleep(10)
        finally:
            assert not watch.fired
            dog.unwatch(watch)

    task = asyncio.ensure_future(attempt())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_a_new_event_loop_gets_a_fresh_timer() -> None:
    dog = Watchdog()

    async def one() -> None:
        watch = dog.watch(0.05)
        dog.unwatch(watch)

    asyncio.run(one())
    asyncio.run(one())  # the first loop's handle is gone with it: no error
    assert len(dog) == 0
