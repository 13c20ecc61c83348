"""One timer for every request's deadline: expiry fails exactly the late acks, and only them."""

from __future__ import annotations

import asyncio

import pytest

from ingest.deadline import Deadlines
from ingest.errors import PublishError


async def wait_for_ack(deadlines: Deadlines, ack: asyncio.Future[None]) -> str:
    """How the app uses a deadline: the answer is "acked", or "late" when the deadline failed the ack."""
    deadlines.watch(ack, "t")
    try:
        await ack
    except PublishError as exc:
        return (
            "late" if (exc.topic, exc.reason) == ("t", f"no ack within {deadlines.seconds:g}s") else repr(exc)
        )
    return "acked"


def test_an_ack_that_never_comes_is_late_after_the_deadline() -> None:
    async def scenario() -> tuple[str, float]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        answer = await wait_for_ack(Deadlines(0.05), loop.create_future())
        return answer, loop.time() - started

    answer, waited = asyncio.run(scenario())
    assert answer == "late"
    assert waited >= 0.05


def test_acked_requests_are_untouched_and_late_ones_fail_in_order() -> None:
    async def scenario() -> list[str]:
        loop = asyncio.get_running_loop()
        deadlines = Deadlines(0.05)
        acks: list[asyncio.Future[None]] = [loop.create_future() for _ in range(6)]
        tasks = []
        for ack in acks:
            tasks.append(asyncio.create_task(wait_for_ack(deadlines, ack)))
            await asyncio.sleep(0.005)
        for ack in acks[::2]:
            ack.set_result(None)
        return list(await asyncio.gather(*tasks))

    assert asyncio.run(scenario()) == ["acked", "late"] * 3


def test_an_ack_that_arrives_after_the_deadline_changes_nothing() -> None:
    async def scenario() -> str:
        loop = asyncio.get_running_loop()
        ack: asyncio.Future[None] = loop.create_future()
        answer = await wait_for_ack(Deadlines(0.01), ack)
        assert ack.done()  # the publisher checks done() before resolving a waiter
        return answer

    assert asyncio.run(scenario()) == "late"


def test_a_cancelled_request_is_cancelled_not_late() -> None:
    async def scenario() -> None:
        task = asyncio.create_task(wait_for_ack(Deadlines(10), asyncio.get_running_loop().create_future()))
        await asyncio.sleep(0.01)
        task.cancel()  # a server shutdown past its timeout
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())


def test_deadlines_work_across_event_loops() -> None:
    deadlines = Deadlines(0.02)

    async def scenario() -> str:
        return await wait_for_ack(deadlines, asyncio.get_running_loop().create_future())

    assert asyncio.run(scenario()) == "late"
    assert asyncio.run(scenario()) == "late"


def test_finished_deadlines_do_not_pile_up() -> None:
    async def scenario() -> int:
        loop = asyncio.get_running_loop()
        deadlines = Deadlines(60)
        for _ in range(1000):
            ack: asyncio.Future[None] = loop.create_future()
            task = asyncio.create_task(wait_for_ack(deadlines, ack))
            await asyncio.sleep(0)
            ack.set_result(None)
            await task
        return len(deadlines)

    assert asyncio.run(scenario()) <= 1
