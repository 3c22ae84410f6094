from __future__ import annotations

import anyio
import pytest

from kommunicate_async._channel import Channel


async def test_fifo_and_waiting_consumer() -> None:
    channel: Channel[int] = Channel(limit=4)
    got: list[int] = []

    async def consume() -> None:
        got.extend([await channel.get() for _ in range(3)])

    async with anyio.create_task_group() as tg:
        tg.start_soon(consume)
        await anyio.sleep(0.01)  # the consumer is now waiting on an empty channel
        for i in range(3):
            await channel.put(i)
    assert got == [0, 1, 2] and len(channel) == 0


async def test_producers_wait_for_room() -> None:
    channel: Channel[int] = Channel(limit=2)
    await channel.put(1)
    await channel.put(2)
    blocked = True

    async def produce() -> None:
        nonlocal blocked
        await channel.put(3)
        blocked = False

    async with anyio.create_task_group() as tg:
        tg.start_soon(produce)
        await anyio.sleep(0.01)
        assert blocked and len(channel) == 2
        assert await channel.get() == 1  # makes room: the producer goes on
        await anyio.sleep(0.01)
        assert not blocked
    assert [await channel.get(), await channel.get()] == [2, 3]


async def test_put_final_ignores_the_limit_and_cancelled_producers_are_skipped() -> (
    None
):
    channel: Channel[int] = Channel(limit=1)
    await channel.put(1)
    with anyio.move_on_after(0.01):
        await channel.put(2)  # cancelled while waiting for room
    channel.put_final(99)
    assert await channel.get() == 1
    assert await channel.get() == 99
    with pytest.raises(IndexError):
        channel.get_nowait()
