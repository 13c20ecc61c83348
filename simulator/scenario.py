"""A scenario (seed, account, start, pace, mix, recipients, wire, faults) and the callbacks it produces.

    callbacks = generate(seed=7, count=5_000, faults=Faults(duplicate_ratio=0.05))
    for callback in simulate(Scenario(seed=7)):   # endless, for a timed run
        ...

Deterministic: the same scenario gives the same callbacks, byte for byte, on any machine at any time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from types import MappingProxyType
from typing import Final

from simulator.callbacks import SimulatedCallback
from simulator.draws import seeded
from simulator.errors import ConfigError
from simulator.faults import NO_FAULTS, Faults, Injector
from simulator.recipients import Recipients
from simulator.wire import WireConfig, choose, write
from simulator.workload import DEFAULT_START, Mix, Workload

_ACCOUNT: Final = re.compile(r"[A-Za-z0-9_.-]{1,64}")


@dataclass(frozen=True, slots=True)
class Scenario:
    seed: int = 0
    #: The account the callbacks are posted for: the last path segment of the handler URL (ingest knows
    #: `default` without configuration).
    account: str = "default"
    #: Simulated time of the first message; callbacks' `ts` and `time` follow from it.
    start: datetime = DEFAULT_START
    #: Pace of the workload in simulated time: new messages (and incoming events) per second.
    messages_per_second: float = 10.0
    mix: Mix = field(default_factory=Mix)
    #: Who messages go to: a degraded carrier, ported numbers.
    recipients: Recipients = field(default_factory=Recipients)
    wire: WireConfig = field(default_factory=WireConfig)
    faults: Faults = NO_FAULTS

    def __post_init__(self) -> None:
        if not _ACCOUNT.fullmatch(self.account):
            raise ConfigError("1-64 of A-Z a-z 0-9 _ . -", field="account")


def simulate(scenario: Scenario) -> Iterator[SimulatedCallback]:
    """The endless stream of callbacks, numbered by `seq` in sending order."""
    workload = Workload(
        scenario.seed,
        start=scenario.start,
        messages_per_second=scenario.messages_per_second,
        mix=scenario.mix,
        faults=scenario.faults,
        recipients=scenario.recipients,
    )
    wire_rng = seeded(scenario.seed, "wire")

    def clean() -> Iterator[SimulatedCallback]:
        for planned in workload:
            choice = choose(scenario.wire, wire_rng)
            written = write(planned.kind, planned.params, choice, scenario.wire)
            yield SimulatedCallback(
                seq=-1,
                account=scenario.account,
                kind=planned.kind,
                key=planned.key,
                params=MappingProxyType(dict(written.params)),
                body=written.request.body,
                query_string=written.request.query_string,
                content_type=written.request.content_type,
                charset=choice.charset,
                body_format=choice.body_format,
                query_keys=tuple(name for name in choice.query_keys if name in written.params),
                sent_at=planned.sent_at,
                fault=planned.fault,
            )

    injector = Injector(scenario.faults, scenario.wire, seeded(scenario.seed, "copies"))
    return injector(clean())


def generate(
    seed: int = 0,
    count: int = 1_000,
    *,
    mix: Mix | None = None,
    faults: Faults = NO_FAULTS,
    wire: WireConfig | None = None,
    account: str = "default",
    start: datetime = DEFAULT_START,
    messages_per_second: float = 10.0,
    recipients: Recipients | None = None,
) -> list[SimulatedCallback]:
    """The first `count` callbacks of a scenario (copies and faults included in the count)."""
    if count < 0:
        raise ConfigError("must be >= 0", field="count")
    scenario = Scenario(
        seed=seed,
        account=account,
        start=start,
        messages_per_second=messages_per_second,
        mix=mix or Mix(),
        recipients=recipients or Recipients(),
        wire=wire or WireConfig(),
        faults=faults,
    )
    return list(islice(simulate(scenario), count))
