"""The installed Faust behaves as the sidecar relies on, through its public API only: fails on a Faust that
does not (docs/streams-design.md, "What Faust does, what the sidecar does")."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import MutableMapping
from typing import Any

import faust
from prometheus_client import CollectorRegistry

from streams.app import STATE_TABLE, RebalanceSensor, create_app
from streams.settings import WorkerSettings


def _app() -> faust.App:
    # Never started: nothing here talks to a broker (port 1 would refuse).
    return create_app(WorkerSettings(kafka_bootstrap_servers="127.0.0.1:1"), registry=CollectorRegistry())


def test_the_revocation_signal_awaits_its_receivers_until_they_return() -> None:
    """The sidecar's pause is a receiver of `on_partitions_revoked`: Faust must not go on (rejoin, hand
    partitions over) before it returned, so `send` must wait for an async receiver."""

    async def scenario() -> list[str]:
        app = faust.App("api-check", broker="kafka://127.0.0.1:1")
        released = asyncio.Event()
        seen: list[str] = []

        async def receiver(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
            (revoked,) = args
            seen.append(f"received {sorted(revoked)} from {sender is app}")
            await released.wait()
            seen.append("receiver returned")

        app.on_partitions_revoked.connect(receiver)
        sending = asyncio.ensure_future(app.on_partitions_revoked.send({1, 2}))
        for _ in range(20):  # ample turns of the loop for a send that would not wait
            await asyncio.sleep(0)
        seen.append(f"send done before release: {sending.done()}")
        released.set()
        await asyncio.wait_for(sending, 5)
        seen.append("send done")
        return seen

    assert asyncio.run(scenario()) == [
        "received [1, 2] from True",
        "send done before release: False",
        "receiver returned",
        "send done",
    ]


def test_the_rebalance_complete_signal_awaits_its_receivers() -> None:
    async def scenario() -> list[str]:
        app = faust.App("api-check", broker="kafka://127.0.0.1:1")
        seen: list[str] = []

        async def receiver(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
            await asyncio.sleep(0.01)
            seen.append("receiver returned")

        app.on_rebalance_complete.connect(receiver)
        await asyncio.wait_for(app.on_rebalance_complete.send(), 5)
        seen.append("send done")
        return seen

    assert asyncio.run(scenario()) == ["receiver returned", "send done"]


def test_the_start_of_a_rebalance_reaches_the_sensors() -> None:
    """Faust has no signal for it: the worker adds a sensor (`app.sensors.add`), whose `on_rebalance_start`
    Faust calls from `App.on_rebalance_start` (its consumer calls that first thing in a rebalance)."""

    class Recording(faust.Sensor):
        def __init__(self) -> None:
            super().__init__()
            self.calls: list[Any] = []

        def on_rebalance_start(self, app: Any) -> dict[str, Any]:
            self.calls.append(app)
            state: dict[str, Any] = super().on_rebalance_start(app)
            return state

    async def scenario() -> None:
        app = faust.App("api-check", broker="kafka://127.0.0.1:1")
        sensor = Recording()
        app.sensors.add(sensor)
        app.on_rebalance_start()
        assert sensor.calls == [app]
        app.on_rebalance_end()

    asyncio.run(scenario())


def test_the_worker_wires_the_sidecar_through_public_hooks() -> None:
    async def scenario() -> None:
        app = _app()
        assert any(isinstance(sensor, RebalanceSensor) for sensor in app.sensors)
        # One receiver each: the sidecar's pause and its take-over (public iteration over receivers).
        assert len(list(app.on_partitions_revoked.iter_receivers(app))) == 1
        assert len(list(app.on_rebalance_complete.iter_receivers(app))) == 1
        # With the sidecar idle, the revocation receiver returns at once (a stuck one would time out).
        await asyncio.wait_for(app.on_partitions_revoked.send(set()), 5)

    asyncio.run(scenario())


def test_the_table_api_the_snapshots_use() -> None:
    """`Collection.data` (documented: the underlying storage, a mapping) and `Collection.send_changelog`
    (public: partition, key, value; returns the pending message, awaitable until the broker acked it)."""

    async def scenario() -> None:
        app = _app()
        table: Any = app.tables[STATE_TABLE]  # a faust.Table; the mapping type does not say so
        assert isinstance(table.data, MutableMapping)
        table.data[b"k"] = b"v"
        assert dict(table.data.items()) == {b"k": b"v"}
        del table.data[b"k"]
        parameters = list(inspect.signature(table.send_changelog).parameters)
        assert parameters[:3] == ["partition", "key", "value"]
        assert inspect.signature(table.send_changelog).return_annotation in (
            "FutureMessage",
            faust.types.FutureMessage,
        )
        assert issubclass(faust.types.FutureMessage, asyncio.Future)

    asyncio.run(scenario())
