"""A small archive written with the real writer from generated callbacks, and the simulator's recount."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pandas as pd
import phonenumbers
import pytest
from phonenumbers import carrier

from reports.archive import write_batch
from simulator import Faults, SimulatedCallback, Truth, generate
from smsc import StatusCallback, decode_request, parse_callback
from smsc.events import Destination, Event, event_from_callback

BATCH = 250
START_NS = 1_740_000_000_000_000_000


@dataclass(frozen=True)
class Workload:
    root: str
    callbacks: list[SimulatedCallback]
    events: list[Event]
    truth: Truth


#: The carrier an HLR answer names for the numbers `destination_of` takes for ported ones.
PORTED_TO: Final = "Ported Mobile"


def destination_of(phone: str) -> Destination:
    """A stand-in for the worker's destination, the same for every status of a number: the region and
    range carrier by libphonenumber, except numbers ending in 0, "ported" (an HLR answer named another
    carrier). The reports only group by what the events carry; this gives them several countries,
    carriers and sources, and a carrier no range has."""
    number = phonenumbers.parse(f"+{phone}")
    country = phonenumbers.region_code_for_number(number) or "unknown"
    if phone.endswith("0"):
        return country, PORTED_TO, "hlr"
    name = carrier.name_for_valid_number(number, "en")
    return (country, name, "range") if name else (country, "unknown", "unknown")


def unique_events(callbacks: list[SimulatedCallback]) -> list[Event]:
    """What the worker puts on `smsc.events`: each parseable callback once (the contract's identities),
    a status with its destination (`destination_of`)."""
    seen: set[tuple[object, ...]] = set()
    events = []
    for offset, callback in enumerate(callbacks):
        request = decode_request(callback.body, callback.query_string, callback.content_type or None)
        parsed = parse_callback(request.params)
        if isinstance(parsed, StatusCallback):
            identity: tuple[object, ...] = ("s", parsed.id, parsed.phone, parsed.status, parsed.occurred_at)
        elif parsed.kind.value == "incoming":
            identity = ("i", getattr(parsed, "id", None))
        else:
            identity = ("c", parsed.phone, getattr(parsed, "ts", None))
        if (callback.account, *identity) in seen:
            continue
        seen.add((callback.account, *identity))
        # Arrival order = list order: received_at strictly increasing, raw offsets too.
        events.append(
            event_from_callback(
                parsed,
                account=callback.account,
                received_at_ns=START_NS + offset * 1_000_000,
                raw_partition=0,
                raw_offset=offset,
                destination=destination_of(parsed.phone) if isinstance(parsed, StatusCallback) else None,
            )
        )
    return events


def write_all(root: str, events: list[Event]) -> None:
    for first in range(0, len(events), BATCH):
        batch = events[first : first + BATCH]
        write_batch(
            root,
            batch,
            topic="smsc.events",
            partition=0,
            first_offset=first,
            last_offset=first + len(batch) - 1,
        )


@pytest.fixture(scope="session")
def workload(tmp_path_factory: pytest.TempPathFactory) -> Workload:
    faults = Faults(out_of_order_ratio=0.05, late_ratio=0.05)
    callbacks = [
        *generate(seed=11, count=1400, faults=faults, account="acme"),
        *generate(seed=12, count=600, faults=faults, account="globex"),
    ]
    events = unique_events(callbacks)
    root = str(tmp_path_factory.mktemp("archive") / "archive")
    write_all(root, events)
    return Workload(root, callbacks, events, Truth.from_callbacks(callbacks))


@pytest.fixture
def archive_path(workload: Workload) -> Path:
    return Path(workload.root)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts (typed loosely, as pandas rows are)."""
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict(orient="records")]
