"""The SMSC simulator: plays the SMSC server's side of the callback protocol, and recounts what it sent.

    from simulator import Faults, Truth, WireConfig, generate

    callbacks = generate(seed=7, count=5_000, faults=Faults(duplicate_ratio=0.05, late_ratio=0.02))
    callbacks[0].body, callbacks[0].query_string, callbacks[0].content_type   # the HTTP request
    truth = Truth.from_callbacks(callbacks)  # what the pipeline must report for them
    labels = {"account": "default", "type": "sms", "sender": "SMSC.RU"}
    truth.value("smsc_messages_final_total", **labels, outcome="expired")  # a Decimal, exact

`generate(..., recipients=Recipients(degrade_carrier="MegaFon", ported_share=0.05))` sends to a
degraded carrier and to ported numbers. `simulate(Scenario(...))` is the endless stream for timed runs,
`Poster` posts it as SMSC does (rate, concurrency, retries), `smsc-analytics simulate` is the command.
See docs/simulator.md.
"""

from simulator.callbacks import Fault, SimulatedCallback
from simulator.errors import ConfigError, EndpointUnreachableError, SimulatorError
from simulator.faults import NO_FAULTS, ErrorBurst, Faults, Malformation
from simulator.poster import Poster, PostPolicy, PostReport, PostStats, callback_url, check_reachable
from simulator.recipients import Recipients
from simulator.scenario import Scenario, generate, simulate
from simulator.truth import CONTRACT, Arrival, MetricSpec, Recount, Truth
from simulator.wire import WireConfig
from simulator.workload import DEFAULT_START, Mix, Product

__all__ = [
    "CONTRACT",
    "DEFAULT_START",
    "NO_FAULTS",
    "Arrival",
    "ConfigError",
    "EndpointUnreachableError",
    "ErrorBurst",
    "Fault",
    "Faults",
    "Malformation",
    "MetricSpec",
    "Mix",
    "PostPolicy",
    "PostReport",
    "PostStats",
    "Poster",
    "Product",
    "Recipients",
    "Recount",
    "Scenario",
    "SimulatedCallback",
    "SimulatorError",
    "Truth",
    "WireConfig",
    "callback_url",
    "check_reachable",
    "generate",
    "simulate",
]
