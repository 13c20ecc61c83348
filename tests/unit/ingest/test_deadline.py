"""One timer for every request's deadline: expiry cancels exactly the late requests, and only them."""

from __future__ import annotations

import asyncio

import pytest

from ingest.deadline import Deadlines


async def wait_for_ack(deadlines: Deadlines, ack: asyncio.Future[None]) -> str:
    """How the app uses a deadline: the answer is "acked", or "late" when the deadline cancelled it."""
    deadline = deadlines.start()
    try:
        await ack
    except asyncio.CancelledError:
        if deadline.caused_cancellation():
            return "late"
        raise
    finally:
        deadline.finish()
    return "acked"


def test_a_request_without_an_ack_is_late_after_its_deadline() -> None:
    async def scenario() -> tuple[str, float]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        answer = await wait_for_ack(Deadlines(0.05), loop.create_future())
        return answer, loop.time() - started

    answer, waited = asyncio.run(scenario())
    assert answer == "late"
    assert waited >= 0.05


def test_acked_requests_are_never_cancelled_and_late_ones_are_in_order() -> None:
    async def scenario() -> list[str]:
        loop = asyncio.get_running_loop()
        deadlines = Deadlines(0.05)
        acks = [loop.create_future() for _ in range(6)]
        tasks = []
        for ack in acks:
            tasks.append(asyncio.create_task(wait_for_ack(deadlines, ack)))
            await asyncio.sleep(0.005)
        for ack in acks[::2]:
            ack.set_result(None)
        answers = await asyncio.gather(*tasks)
        # The task is not left "cancelling": it can still await (e.g. write its 503 answer).
        assert all(task.cancelling() == 0 for task in tasks)
        return answers

    assert asyncio.run(scenario()) == ["acked", "late"] * 3


def test_another_cancellation_is_not_taken_for_the_deadline() -> None:
    async def scenario() -> None:
        task = asyncio.create_task(wait_for_ack(Deadlines(10), asyncio.get_running_loop().create_future()))
        await asyncio.sleep(0.01)
        task.cancel()  # a server shutdown past its timeout
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())


def test_a_deadline_that_expires_while_the_server_also_cancels_still_propagates() -> None:
    async def scenario() -> None:
        task = asyncio.create_task(wait_for_ack(Deadlines(0), asyncio.get_running_loop().create_future()))
        await asyncio.sleep(0)  # the request now waits for its ack; its deadline is due at once
        task.cancel()  # and the server cancels it in the same loop iteration
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
            ack = loop.create_future()
            ack.set_result(None)
            await wait_for_ack(deadlines, ack)
        return len(deadlines)

    assert asyncio.run(scenario()) <= 1
