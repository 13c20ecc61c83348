"""The live summary of `smsc-analytics up`: a worker's /metrics, read every second, as a few figures."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families
from rich.table import Table

#: Every raw record a worker has applied shows up in exactly one of these counters.
_CALLBACK_COUNTERS = (
    "smsc_status_callbacks_total",
    "smsc_incoming_messages_total",
    "smsc_call_confirmations_total",
    "smsc_callbacks_duplicate_total",
    "smsc_callbacks_dead_total",
)


def scrape(url: str, timeout_seconds: float = 2.0) -> dict[str, float]:
    """Sum of every sample per sample name (labels summed away): all the summary needs."""
    with urllib.request.urlopen(url, timeout=timeout_seconds) as response:  # noqa: S310 - http:// only
        text = response.read().decode("utf-8")
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "smsc_messages_final_total":
                name = f"{sample.name}:{sample.labels.get('outcome', '')}"
            else:
                name = sample.name
            totals[name] = totals.get(name, 0.0) + sample.value
    return totals


@dataclass(frozen=True)
class Figures:
    callbacks: int
    callbacks_per_second: float
    delivered: int
    final: int
    in_flight: int
    spend: float
    undelivered_spend: float
    errors: int
    dead: int

    @property
    def delivery_ratio(self) -> float | None:
        return self.delivered / self.final if self.final else None

    def line(self) -> str:
        ratio = "n/a" if self.delivery_ratio is None else f"{self.delivery_ratio:.1%}"
        return (
            f"callbacks={self.callbacks} ({self.callbacks_per_second:.1f}/s) "
            f"delivered={self.delivered}/{self.final} final ({ratio}) in_flight={self.in_flight} "
            f"spend={self.spend:.2f} (undelivered {self.undelivered_spend:.2f}) "
            f"errors={self.errors} dead={self.dead}"
        )

    def table(self, title: str) -> Table:
        ratio = "n/a" if self.delivery_ratio is None else f"{self.delivery_ratio:.1%}"
        table = Table(title=title, show_header=False, min_width=60)
        table.add_column("figure", style="bold")
        table.add_column("value", justify="right")
        table.add_row("callbacks applied", f"{self.callbacks:,}")
        table.add_row("throughput", f"{self.callbacks_per_second:,.1f} callbacks/s")
        table.add_row("delivery ratio", f"{ratio}  ({self.delivered:,} of {self.final:,} final)")
        table.add_row("messages in flight", f"{self.in_flight:,}")
        table.add_row("spend", f"{self.spend:,.2f}  (undelivered {self.undelivered_spend:,.2f})")
        table.add_row("delivery errors", f"{self.errors:,}")
        table.add_row("dead-lettered callbacks", f"{self.dead:,}")
        return table


class Rates:
    """Turns successive scrapes into figures; the throughput is over the last interval."""

    def __init__(self) -> None:
        self._last: tuple[float, int] | None = None

    def figures(self, totals: Mapping[str, float]) -> Figures:
        now = time.monotonic()
        callbacks = int(sum(totals.get(name, 0.0) for name in _CALLBACK_COUNTERS))
        per_second = 0.0
        if self._last is not None and now > self._last[0]:
            per_second = max(0.0, (callbacks - self._last[1]) / (now - self._last[0]))
        self._last = (now, callbacks)
        final = sum(value for name, value in totals.items() if name.startswith("smsc_messages_final_total:"))
        return Figures(
            callbacks=callbacks,
            callbacks_per_second=per_second,
            delivered=int(totals.get("smsc_messages_final_total:delivered", 0.0)),
            final=int(final),
            in_flight=int(totals.get("smsc_messages_in_flight", 0.0)),
            spend=totals.get("smsc_cost_total", 0.0),
            undelivered_spend=totals.get("smsc_cost_undelivered_total", 0.0),
            errors=int(totals.get("smsc_errors_total", 0.0)),
            dead=int(totals.get("smsc_callbacks_dead_total", 0.0)),
        )
