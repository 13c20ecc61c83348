"""The reference recount: the exact aggregates of the metric contract (issue 4) for a list of callbacks.

It reads only what went over the wire (account, body, query string, content type), in arrival order,
with `smsc/` for decoding and the code tables, and applies the contract's rules in plain Python:

- **Dead**: a request that does not decode or parse counts once under `reason` = the error's `.code`.
- **Deduplication** per account: a status is `(id, phone, status, ts)` (`time` when `ts` is absent), an
  incoming SMS `(id)`, a call confirmation `(phone, ts)`. A repeat counts only as a duplicate.
- **Lifecycle** per message (`account`, `id:phone`), in arrival order: the first status seen opens it
  (`not_found` (-3) and codes outside the table open nothing) and its time is the message's first-status
  time. `cost` and `cnt` are counted once, from its first status that carries them (`cnt` only for
  types other than voice, where it is talk seconds, not parts). The first final status in arrival order
  decides the outcome: delivered (1), or read (2) / clicked (4) with no delivered before them
  (= delivered, once), failed (20..25), expired (3). Nothing reopens it: later statuses are still status
  callbacks (and errors), but change no outcome, latency, cost or voice figure.
- **Latency** = ts of the delivered (1) status that made the message final - its first-status time
  (never < 0); a message made delivered by read/clicked has no latency observation.
- **Undelivered cost**: the message's cost when its outcome is failed or expired.
- **Engagement**: read and clicked once per message each, whatever the outcome.
- **Voice** (type 7) and **HLR** (type 4) figures come from the status that made the message final:
  voice outcome from `voice_outcome(status, err)`; talk time (`cnt`) of answered calls; `ringtime`,
  `callmenu` (the key sequence as sent, not capped), each key of `dtmf`, the `overtime` line of `cmt`;
  every HLR look-up once, whatever its outcome, by country (`cn`), network (`net`) and roaming (`rcn`/`rnet`
  present) of that status's answer, `unknown` for what the answer lacks (a failed look-up has none: all
  three `unknown`).
- **Destination** of a message (`country`, `carrier`), once, at its first status seen: the country and
  the range's carrier from `phonenumbers` (`unknown` for none); but when a look-up answer for the same
  number (any account) made an HLR look-up final as delivered before that status arrived (and at most
  30 days before its time), the canonical carrier (simulator/vocabulary.py) of the network that answered
  (`carrier_source` hlr; else range, or unknown when the range has no carrier). The destination metrics
  count the final outcome, delivery latency and cost exactly as their totals above, so each sums to them
  over destinations; the carrier sources count every message once, when it opens.
- **Labels** of a count come from the callback that causes it (its `type`, `sender`, `flag`); the gauges
  use the type of the message's first status seen.
- **Gauges** at the end: messages not final (in flight); cohorts = messages whose first-status time is in
  (`as_of` - window, `as_of`] and, of those, the delivered ones. `as_of` defaults to the latest time
  of any counted callback.

Label values: `type` = `smsc.message_type_name` (sms, viber, voice, hlr ...), `status`/`err` the decimal
code, `outcome` an `Outcome`/`VoiceOutcome` value, `balance` main/second, `template_kind` a
`TemplateKind` value or `none`, a missing sender `none`, a missing HLR field `unknown`, booleans
`true`/`false`, `country` ISO 3166 alpha-2 or `unknown`, `carrier` libphonenumber's English name (or the
vocabulary's canonical one, the same spelling) or `unknown`, `source` hlr/range/unknown.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, Literal, Protocol

import phonenumbers
from phonenumbers import carrier as phone_carriers

from simulator.vocabulary import NETWORKS
from smsc import (
    CallbackKind,
    CallConfirmation,
    IncomingSms,
    Outcome,
    SmscError,
    StatusCallback,
    VoiceOutcome,
    account_timezone,
    decode_request,
    parse_callback,
    status_outcome,
    voice_outcome,
)
from smsc.codes import HLR_TYPE, VOICE_TYPE
from smsc.parse import DEFAULT_ACCOUNT_TIMEZONE

FORMAT: Final = "smsc-analytics/truth"
VERSION: Final = 1
COHORT_WINDOWS: Final = {"1h": timedelta(hours=1), "24h": timedelta(hours=24)}
NONE: Final = "none"
#: What an HLR look-up's answer lacks; a number's country or carrier nobody knows.
UNKNOWN: Final = "unknown"
#: An HLR answer names a number's carrier for this long after it (the workers' default retention).
HLR_RETENTION: Final = timedelta(days=30)
#: Where a message's carrier came from (`smsc_destination_carrier_sources_total{source}`).
HLR_SOURCE: Final = "hlr"
RANGE_SOURCE: Final = "range"

MetricType = Literal["counter", "gauge", "histogram"]


@dataclass(frozen=True, slots=True)
class MetricSpec:
    name: str
    type: MetricType
    labels: tuple[str, ...]
    #: Sums of money: kept as Decimal, written as decimal strings.
    money: bool = False


#: The metric contract of issue 4 (every metric the recount can know from the callbacks alone;
#: `smsc_error_code_info` is the static code table, not a recount).
CONTRACT: Final = {
    spec.name: spec
    for spec in (
        MetricSpec("smsc_status_callbacks_total", "counter", ("account", "type", "status")),
        MetricSpec("smsc_messages_final_total", "counter", ("account", "type", "sender", "outcome")),
        MetricSpec("smsc_messages_engagement_total", "counter", ("account", "type", "event")),
        MetricSpec("smsc_messages_in_flight", "gauge", ("account", "type")),
        MetricSpec("smsc_cohort_messages", "gauge", ("account", "type", "window")),
        MetricSpec("smsc_cohort_delivered", "gauge", ("account", "type", "window")),
        MetricSpec("smsc_delivery_latency_seconds", "histogram", ("account", "type")),
        MetricSpec("smsc_message_parts_total", "counter", ("account", "type", "sender")),
        MetricSpec(
            "smsc_cost_total",
            "counter",
            ("account", "type", "sender", "balance", "template_kind"),
            money=True,
        ),
        MetricSpec("smsc_cost_undelivered_total", "counter", ("account", "type"), money=True),
        MetricSpec("smsc_errors_total", "counter", ("account", "type", "err")),
        MetricSpec("smsc_voice_calls_total", "counter", ("account", "outcome")),
        MetricSpec("smsc_voice_call_duration_seconds", "histogram", ("account",)),
        MetricSpec("smsc_voice_ring_seconds", "histogram", ("account",)),
        MetricSpec("smsc_voice_menu_selections_total", "counter", ("account", "path")),
        MetricSpec("smsc_voice_dtmf_total", "counter", ("account", "key")),
        MetricSpec("smsc_voice_overtime_seconds_total", "counter", ("account",)),
        MetricSpec("smsc_incoming_messages_total", "counter", ("account", "to", "is_reply")),
        MetricSpec("smsc_call_confirmations_total", "counter", ("account",)),
        MetricSpec("smsc_hlr_lookups_total", "counter", ("account", "country", "network", "roaming")),
        MetricSpec(
            "smsc_destination_messages_final_total",
            "counter",
            ("account", "type", "country", "carrier", "outcome"),
        ),
        MetricSpec(
            "smsc_destination_delivery_latency_seconds",
            "histogram",
            ("account", "type", "country", "carrier"),
        ),
        MetricSpec(
            "smsc_destination_cost_total", "counter", ("account", "type", "country", "carrier"), money=True
        ),
        MetricSpec("smsc_destination_carrier_sources_total", "counter", ("account", "source")),
        MetricSpec("smsc_callbacks_duplicate_total", "counter", ("account", "kind")),
        MetricSpec("smsc_callbacks_dead_total", "counter", ("account", "reason")),
    )
}

Labels = tuple[str, ...]

_INPUTS: Final = (
    "callbacks",
    "dead",
    "duplicates",
    *(f"unique_{kind.value}" for kind in CallbackKind),
    "messages",
)


class Arrival(Protocol):
    """What the endpoint stored: a `SimulatedCallback`, or an `smsc.raw_record.RawRecord` read back."""

    @property
    def account(self) -> str: ...
    @property
    def body(self) -> bytes: ...
    @property
    def query_string(self) -> str | bytes: ...
    @property
    def content_type(self) -> str | None: ...


@dataclass(slots=True)
class _Message:
    #: The type of its first status seen: the label of the gauges (in flight, cohorts).
    type_name: str
    #: Unix time of its first status seen.
    first_at: float
    #: (country, carrier) of its number when it opened.
    destination: tuple[str, str]
    charged: bool = False
    cost: Decimal = Decimal(0)
    final: Outcome | None = None
    engaged: set[Outcome] = field(default_factory=set)


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _seconds(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


class Truth:
    """Counters, gauges and histogram observations keyed by metric name and label values."""

    def __init__(self) -> None:
        self.values: dict[str, dict[Labels, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        self.observed: dict[str, dict[Labels, list[float]]] = defaultdict(lambda: defaultdict(list))
        self.as_of: datetime | None = None
        #: callbacks (all given), dead, duplicates, unique_<kind> (the rest), messages (status lifecycles).
        self.inputs: dict[str, int] = dict.fromkeys(_INPUTS, 0)

    # -- the recount ------------------------------------------------------------------------------

    @classmethod
    def from_callbacks(
        cls,
        arrivals: Iterable[Arrival],
        *,
        as_of: datetime | None = None,
        tz: tzinfo | None = None,
    ) -> Truth:
        """Recount `arrivals` in the order given (the order the endpoint stored them)."""
        recount = Recount(tz=tz)
        for arrival in arrivals:
            recount.add(arrival)
        return recount.result(as_of=as_of)

    # -- reading it -------------------------------------------------------------------------------

    def labels(self, metric: str, **labels: str) -> Labels:
        spec = CONTRACT[metric]
        if set(labels) != set(spec.labels):
            raise KeyError(f"{metric} has labels {spec.labels}, got {tuple(labels)}")
        return tuple(labels[name] for name in spec.labels)

    def value(self, metric: str, **labels: str) -> Decimal:
        """A counter or gauge value (0 when never counted); money exact, counts as whole Decimals."""
        return self.values[metric].get(self.labels(metric, **labels), Decimal(0))

    def total(self, metric: str, **labels: str) -> Decimal:
        """The sum over every series whose labels include the given ones (`total(m)` = all series)."""
        spec = CONTRACT[metric]
        wanted = {spec.labels.index(name): value for name, value in labels.items()}
        if spec.type == "histogram":
            series = self.observed[metric]
            return Decimal(sum(len(v) for k, v in series.items() if _matches(k, wanted)))
        return sum((v for k, v in self.values[metric].items() if _matches(k, wanted)), Decimal(0))

    def observations(self, metric: str, **labels: str) -> list[float]:
        return sorted(self.observed[metric].get(self.labels(metric, **labels), []))

    def to_json(self, *, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The truth file's document (layout in docs/simulator.md)."""
        metrics: dict[str, Any] = {}
        for spec in CONTRACT.values():
            metrics[spec.name] = {
                "type": spec.type,
                "labels": list(spec.labels),
                "samples": self._samples(spec),
            }
        document: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "as_of": self.as_of.astimezone(UTC).isoformat().replace("+00:00", "Z") if self.as_of else None,
            "as_of_unix": _seconds(self.as_of.timestamp()) if self.as_of else None,
            "inputs": dict(self.inputs),
            "metrics": metrics,
        }
        if extra:
            document["run"] = dict(extra)
        return document

    def write(self, path: Path, *, extra: Mapping[str, Any] | None = None) -> None:
        text = json.dumps(self.to_json(extra=extra), ensure_ascii=False, indent=1, sort_keys=False)
        path.write_text(text + "\n", encoding="utf-8")

    def _samples(self, spec: MetricSpec) -> list[dict[str, Any]]:
        samples: list[dict[str, Any]] = []
        if spec.type == "histogram":
            for labels, values in sorted(self.observed[spec.name].items()):
                observations = sorted(values)
                samples.append(
                    {
                        "labels": dict(zip(spec.labels, labels, strict=True)),
                        "count": len(observations),
                        "sum": _seconds(sum(observations)),
                        "observations": [_seconds(value) for value in observations],
                    }
                )
            return samples
        for labels, value in sorted(self.values[spec.name].items()):
            if spec.type == "counter" and not value:
                continue  # a counter never incremented has no sample; a gauge's 0 is a value
            number: Any = str(value) if spec.money else int(value)
            samples.append({"labels": dict(zip(spec.labels, labels, strict=True)), "value": number})
        return samples


def _matches(labels: Labels, wanted: Mapping[int, str]) -> bool:
    return all(labels[index] == value for index, value in wanted.items())


def range_destination(phone: str) -> tuple[str, str]:
    """(country, carrier) of the range `phone` belongs to, as libphonenumber knows it; `unknown` for none."""
    try:
        number = phonenumbers.parse(f"+{phone}")
    except phonenumbers.NumberParseException:
        return UNKNOWN, UNKNOWN
    region = phonenumbers.region_code_for_number(number)
    country = region if region and region not in ("ZZ", "001") else UNKNOWN  # 001: non-geographic
    return country, phone_carriers.name_for_valid_number(number, "en") or UNKNOWN


def _answered_carrier(callback: StatusCallback) -> str | None:
    """The canonical carrier of the network that answered a look-up: by (mcc, mnc), else by its names."""
    hlr = callback.hlr
    if hlr is None:
        return None
    network = NETWORKS.get((hlr.mcc, hlr.mnc)) if hlr.mcc is not None and hlr.mnc is not None else None
    if network is None:
        named = (hlr.country, hlr.network)
        network = next((n for n in NETWORKS.values() if (n.country_name, n.name) == named), None)
    return network.carrier if network else None


class Recount:
    """The recount fed one arrival at a time (a long simulator run keeps no callback, only this state)."""

    def __init__(self, *, tz: tzinfo | None = None) -> None:
        self.truth = Truth()
        self.tz = tz or account_timezone(DEFAULT_ACCOUNT_TIMEZONE)
        self.seen: set[tuple[object, ...]] = set()
        self.messages: dict[tuple[str, str], _Message] = {}
        #: phone -> (carrier, Unix time) of the latest look-up answer that named its network.
        self.answered: dict[str, tuple[str, float]] = {}
        self.latest: datetime | None = None

    def add(self, arrival: Arrival) -> None:
        """Count one request the endpoint accepted, in the order it accepted them."""
        self.arrival(arrival)

    def result(self, *, as_of: datetime | None = None) -> Truth:
        """The truth so far, gauges computed at `as_of` (default: the latest time counted)."""
        truth = self.truth
        for gauge in (name for name, spec in CONTRACT.items() if spec.type == "gauge"):
            truth.values.pop(gauge, None)
        truth.as_of = as_of or self.latest
        self.gauges()
        truth.inputs["messages"] = len(self.messages)
        return truth

    def count(self, metric: str, *labels: str, by: Decimal | int = 1) -> None:
        self.truth.values[metric][labels] += by

    def observe(self, metric: str, value: float, *labels: str) -> None:
        self.truth.observed[metric][labels].append(value)

    def arrival(self, arrival: Arrival) -> None:
        account = arrival.account
        self.truth.inputs["callbacks"] += 1
        try:
            request = decode_request(arrival.body, arrival.query_string, arrival.content_type or None)
            callback = parse_callback(request.params, tz=self.tz)
        except SmscError as exc:
            self.truth.inputs["dead"] += 1
            self.count("smsc_callbacks_dead_total", account, exc.code)
            return
        if isinstance(callback, StatusCallback):
            identity: tuple[object, ...] = (
                callback.id,
                callback.phone,
                callback.status,
                callback.occurred_at,
            )
        elif isinstance(callback, IncomingSms):
            identity = (callback.id,)
        else:
            identity = (callback.phone, callback.ts)
        if (account, callback.kind, *identity) in self.seen:
            self.truth.inputs["duplicates"] += 1
            self.count("smsc_callbacks_duplicate_total", account, callback.kind.value)
            return
        self.seen.add((account, callback.kind, *identity))
        self.truth.inputs[f"unique_{callback.kind.value}"] += 1
        when = callback.occurred_at
        if when is not None and (self.latest is None or when > self.latest):
            self.latest = when
        if isinstance(callback, StatusCallback):
            self.status(account, callback)
        elif isinstance(callback, IncomingSms):
            self.count("smsc_incoming_messages_total", account, callback.to, _flag(callback.is_reply))
        else:
            assert isinstance(callback, CallConfirmation)
            self.count("smsc_call_confirmations_total", account)

    def status(self, account: str, callback: StatusCallback) -> None:
        type_name = callback.type_name
        self.count("smsc_status_callbacks_total", account, type_name, str(callback.status))
        if callback.err:
            self.count("smsc_errors_total", account, type_name, str(callback.err))
        outcome = status_outcome(callback.status)
        if outcome in (Outcome.NOT_FOUND, Outcome.UNKNOWN):
            return
        at = callback.occurred_at.timestamp() if callback.occurred_at else None
        message = self.messages.get((account, callback.message_key))
        if message is None:
            first_at = at if at is not None else float("inf")
            message = _Message(type_name, first_at, self.destination(account, callback.phone, first_at))
            self.messages[(account, callback.message_key)] = message
        if not message.charged and (callback.cost is not None or callback.cnt is not None):
            self.charge(account, message, callback)
        if outcome in (Outcome.READ, Outcome.CLICKED) and outcome not in message.engaged:
            message.engaged.add(outcome)
            self.count("smsc_messages_engagement_total", account, type_name, outcome.value)
        if message.final is None and (outcome.is_final or outcome.implies_delivery):
            self.finish(account, message, callback, outcome, at)

    def destination(self, account: str, phone: str, first_at: float) -> tuple[str, str]:
        """A new message's (country, carrier), its carrier source counted."""
        country, carrier = range_destination(phone)
        answer = self.answered.get(phone)
        if answer is not None and first_at - answer[1] <= HLR_RETENTION.total_seconds():
            carrier, source = answer[0], HLR_SOURCE
        else:
            source = RANGE_SOURCE if carrier != UNKNOWN else UNKNOWN
        self.count("smsc_destination_carrier_sources_total", account, source)
        return country, carrier

    def charge(self, account: str, message: _Message, callback: StatusCallback) -> None:
        """`cost` and `cnt` once per message, from its first status that carries them."""
        message.charged = True
        message.cost = callback.cost or Decimal(0)
        flag, type_name, sender = callback.flag, callback.type_name, callback.sender or NONE
        if callback.cost is not None:
            balance = flag.balance.value if flag else "main"
            template_kind = flag.template_kind.value if flag and flag.template_kind else NONE
            labels = (account, type_name, sender, balance, template_kind)
            self.count("smsc_cost_total", *labels, by=callback.cost)
            destination = (account, type_name, *message.destination)
            self.count("smsc_destination_cost_total", *destination, by=callback.cost)
        if callback.cnt is not None and callback.message_type != VOICE_TYPE:  # a call's cnt is seconds
            self.count("smsc_message_parts_total", account, type_name, sender, by=callback.cnt)

    def finish(
        self, account: str, message: _Message, callback: StatusCallback, outcome: Outcome, at: float | None
    ) -> None:
        type_name = callback.type_name
        final = Outcome.DELIVERED if outcome.implies_delivery else outcome
        message.final = final
        destination = (account, type_name, *message.destination)
        self.count("smsc_messages_final_total", account, type_name, callback.sender or NONE, final.value)
        self.count("smsc_destination_messages_final_total", *destination, final.value)
        if outcome is Outcome.DELIVERED and at is not None and message.first_at != float("inf"):
            # Only a delivered status times a delivery: read/clicked tell that it happened, not when.
            latency = max(0.0, at - message.first_at)
            self.observe("smsc_delivery_latency_seconds", latency, account, type_name)
            self.observe("smsc_destination_delivery_latency_seconds", latency, *destination)
        elif final is not Outcome.DELIVERED:
            self.count("smsc_cost_undelivered_total", account, type_name, by=message.cost)
        if callback.message_type == VOICE_TYPE:
            self.voice(account, callback)
        elif callback.message_type == HLR_TYPE:
            self.lookup(account, callback)
            answered = _answered_carrier(callback) if final is Outcome.DELIVERED else None
            if answered is not None and at is not None:
                self.answered[callback.phone] = (answered, at)

    def lookup(self, account: str, callback: StatusCallback) -> None:
        """An HLR look-up, once, from the status that made it final: failed ones count too."""
        hlr = callback.hlr
        if hlr is None:  # failed, or an answer without a single field
            self.count("smsc_hlr_lookups_total", account, UNKNOWN, UNKNOWN, UNKNOWN)
        else:
            country, network = hlr.country or UNKNOWN, hlr.network or UNKNOWN
            self.count("smsc_hlr_lookups_total", account, country, network, _flag(hlr.roaming))

    def voice(self, account: str, callback: StatusCallback) -> None:
        call = voice_outcome(callback.status, callback.err)
        assert call is not None  # only a final status finishes a message
        self.count("smsc_voice_calls_total", account, call.value)
        if call is VoiceOutcome.ANSWERED and callback.cnt is not None:
            self.observe("smsc_voice_call_duration_seconds", callback.cnt, account)
        menu = callback.voice_menu
        if menu is not None and menu.ringtime_seconds is not None:
            self.observe("smsc_voice_ring_seconds", menu.ringtime_seconds, account)
        if menu is not None and menu.callmenu:
            self.count("smsc_voice_menu_selections_total", account, menu.callmenu)
        for key in callback.dtmf or "":
            self.count("smsc_voice_dtmf_total", account, key)
        if callback.overtime_seconds:
            self.count("smsc_voice_overtime_seconds_total", account, by=callback.overtime_seconds)

    def gauges(self) -> None:
        as_of = self.truth.as_of
        for (account, _), message in self.messages.items():
            self.count("smsc_messages_in_flight", account, message.type_name, by=message.final is None)
            for window, length in COHORT_WINDOWS.items():
                labels = (account, message.type_name, window)
                inside = as_of is not None and (
                    as_of.timestamp() - length.total_seconds() < message.first_at <= as_of.timestamp()
                )
                self.count("smsc_cohort_messages", *labels, by=inside)
                delivered = inside and message.final is Outcome.DELIVERED
                self.count("smsc_cohort_delivered", *labels, by=delivered)
