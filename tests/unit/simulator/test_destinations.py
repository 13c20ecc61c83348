"""Destinations: numbers over several countries and carriers as libphonenumber knows them, HLR answers
from the number's own network, a degraded carrier, ported numbers looked up before they are messaged."""

from __future__ import annotations

import functools
import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import Decimal

import phonenumbers
import pytest
from phonenumbers import carrier as phone_carriers

from simulator import ConfigError, Faults, Mix, Recipients, SimulatedCallback, Truth, generate
from simulator.draws import seeded
from simulator.recipients import phone_of
from simulator.vocabulary import DESTINATIONS, NETWORKS, PORTABLE_DESTINATIONS, Destination, carriers
from simulator.workload import Planned, Workload
from smsc import CallbackKind, StatusCallback, decode_request, parse_callback

SMS_ONLY = Mix(sms=1, flash=0, viber=0, voice=0, hlr=0, incoming=0, call_confirmation=0)


@dataclass(frozen=True)
class Run:
    """A generated workload: its callbacks, its status callbacks read back (index, callback, status)."""

    callbacks: list[SimulatedCallback]
    statuses: list[tuple[int, SimulatedCallback, StatusCallback]]

    @classmethod
    def of(cls, callbacks: list[SimulatedCallback]) -> Run:
        statuses = []
        for index, callback in enumerate(callbacks):
            if callback.kind is CallbackKind.STATUS:
                request = decode_request(callback.body, callback.query_string, callback.content_type)
                status = parse_callback(request.params)
                assert isinstance(status, StatusCallback)
                statuses.append((index, callback, status))
        return cls(callbacks, statuses)

    @functools.cached_property
    def truth(self) -> Truth:
        return Truth.from_callbacks(self.callbacks)

    def message_phones(self) -> dict[str, str]:
        """message key -> phone of every message but HLR look-ups."""
        return {c.key: status.phone for _, c, status in self.statuses if status.message_type != 4}

    def ported_answers(self) -> dict[str, tuple[int, StatusCallback]]:
        """phone -> (index, status) of the first look-up answer whose network is not the range's."""
        answers: dict[str, tuple[int, StatusCallback]] = {}
        for index, _, status in self.statuses:
            if status.message_type != 4 or status.status != 1 or status.hlr is None:
                continue
            range_network = destination_of(status.phone).network
            if (status.hlr.mcc, status.hlr.mnc) != (range_network.mcc, range_network.mnc):
                answers.setdefault(status.phone, (index, status))
        return answers


def destination_of(phone: str) -> Destination:
    return next(destination for destination in DESTINATIONS if phone.startswith(destination.prefix))


def delivered_ratio(truth: Truth, country: str, carrier: str) -> float:
    metric = "smsc_destination_messages_final_total"
    final = truth.total(metric, country=country, carrier=carrier)
    delivered = truth.total(metric, country=country, carrier=carrier, outcome="delivered")
    return float(delivered / final)


# -- the vocabulary against the library -------------------------------------------------------------


@pytest.mark.parametrize("destination", DESTINATIONS, ids=lambda d: f"{d.country}-{d.prefix}")
def test_every_destination_is_what_libphonenumber_says(destination: Destination) -> None:
    rng = seeded(1, destination.prefix)
    for _ in range(300):
        phone = phone_of(rng, destination)
        assert len(phone) == destination.length
        number = phonenumbers.parse(f"+{phone}")
        assert phonenumbers.is_valid_number(number), phone
        assert phonenumbers.region_code_for_number(number) == destination.country, phone
        assert phone_carriers.name_for_valid_number(number, "en") == (destination.range_carrier or ""), phone
    assert destination.network.country == destination.country


def test_every_network_is_named_as_libphonenumber_names_one_of_its_ranges() -> None:
    for network in NETWORKS.values():
        ranges = {d.range_carrier for d in DESTINATIONS if d.network == network}
        assert network.carrier in ranges, network
    assert carriers() == sorted({network.carrier for network in NETWORKS.values()})
    assert any(destination.range_carrier is None for destination in DESTINATIONS)  # only HLR names it


def test_destinations_spread_mostly_in_russia() -> None:
    total = sum(destination.weight for destination in DESTINATIONS)
    assert 8 <= len(DESTINATIONS) <= 12
    assert len({destination.country for destination in DESTINATIONS}) >= 5
    russia = sum(destination.weight for destination in DESTINATIONS if destination.country == "RU")
    assert 0.6 < russia / total < 0.9
    assert {destination.network.carrier for destination in PORTABLE_DESTINATIONS} == {
        "Beeline",
        "MegaFon",
        "MTS",
        "T2",
    }


# -- the workload -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plain() -> Run:
    return Run.of(generate(seed=11, count=15_000))


def test_messages_spread_over_the_destinations_by_weight(plain: Run) -> None:
    phones = plain.message_phones()
    counted = Counter(destination_of(phone) for phone in phones.values())
    total = sum(destination.weight for destination in DESTINATIONS)
    assert set(counted) == set(DESTINATIONS)
    for destination in DESTINATIONS:
        share = counted[destination] / len(phones)
        assert share == pytest.approx(destination.weight / total, abs=0.02), destination


def test_hlr_answers_report_the_number_network(plain: Run) -> None:
    answers = [status for _, _, status in plain.statuses if status.message_type == 4 and status.status == 1]
    assert len(answers) > 100
    networks = set()
    for answer in answers:
        network = destination_of(answer.phone).network
        assert answer.hlr is not None
        assert (answer.hlr.mcc, answer.hlr.mnc) == (network.mcc, network.mnc)
        assert (answer.hlr.country, answer.hlr.network) == (network.country_name, network.name)
        networks.add(network)
    assert len(networks) >= 8


def test_incoming_sms_and_call_confirmations_come_from_russian_numbers(plain: Run) -> None:
    # A reply to an SMS comes from that SMS's number, wherever it is.
    unprompted = [
        callback
        for callback in plain.callbacks
        if callback.kind is not CallbackKind.STATUS and "sms_id" not in callback.params
    ]
    assert unprompted
    assert {destination_of(callback.params["phone"]).country for callback in unprompted} == {"RU"}


# -- a degraded carrier -------------------------------------------------------------------------------


def planned_until(workload: Workload, seconds: float) -> list[Planned]:
    end = workload.start + seconds
    return list(itertools.takewhile(lambda planned: planned.sent_at < end, workload))


def test_degrading_a_carrier_changes_only_its_messages() -> None:
    clean = planned_until(Workload(4), 600)
    worse = planned_until(Workload(4, recipients=Recipients(degrade_carrier="megafon")), 600)

    def others(plans: list[Planned]) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
        # A degraded message's statuses take other times: compare what was sent well before the end.
        return {
            (p.key, tuple(sorted(p.params.items())))
            for p in plans
            if p.kind is CallbackKind.STATUS
            and p.sent_at < clean[0].sent_at + 300
            and destination_of(p.params["phone"]).network.carrier != "MegaFon"
        }

    assert others(clean) == others(worse)
    degraded = {p.key for p in worse if p.kind is CallbackKind.STATUS} - {
        p.key for p in clean if p.kind is CallbackKind.STATUS
    }
    assert not degraded  # the same messages, to the same numbers


def test_a_degraded_carrier_mostly_fails_with_operator_errors(plain: Run) -> None:
    worse = Run.of(generate(seed=11, count=15_000, recipients=Recipients(degrade_carrier="MegaFon")))
    assert delivered_ratio(plain.truth, "RU", "MegaFon") > 0.75
    assert 0.2 < delivered_ratio(worse.truth, "RU", "MegaFon") < 0.4
    for destination in DESTINATIONS:
        if destination.network.carrier != "MegaFon":
            country, carrier = destination.country, destination.range_carrier or "unknown"
            assert delivered_ratio(worse.truth, country, carrier) == pytest.approx(
                delivered_ratio(plain.truth, country, carrier), abs=0.02
            )
    errs = Counter(
        status.err
        for _, _, status in worse.statuses
        if status.phone.startswith("7926") and status.status in (20, 25)
    )
    assert {220, 245, 248, 255} <= set(errs)
    assert errs.most_common(1)[0][0] == 255


def test_a_country_qualifies_the_degraded_carrier() -> None:
    russian_mts = Recipients(degrade_carrier="RU:MTS")
    assert [network.country for network in NETWORKS.values() if russian_mts.degrades(network)] == ["RU"]
    assert sum(map(Recipients(degrade_carrier=" mts ").degrades, NETWORKS.values())) == 2  # RU and BY
    assert not any(map(Recipients().degrades, NETWORKS.values()))


@pytest.mark.parametrize("name", ["Vodafone", "DE:MTS", "", "RU:"])
def test_an_unknown_carrier_is_refused_naming_the_simulated_ones(name: str) -> None:
    with pytest.raises(ConfigError) as error:
        Recipients(degrade_carrier=name)
    assert error.value.field == "degrade_carrier"
    assert "Beeline, Kcell/Activ, MTS, MegaFon, T-Mobile, T2, Turkcell, Ucell, Velcom" in str(error.value)


@pytest.mark.parametrize(
    ("options", "field"),
    [({"ported_share": 1.5}, "ported_share"), ({"ported_settle_seconds": -1.0}, "ported_settle_seconds")],
)
def test_bad_ported_options_are_refused(options: dict[str, float], field: str) -> None:
    with pytest.raises(ConfigError) as error:
        Recipients(**options)  # type: ignore[arg-type]
    assert error.value.field == field


# -- ported numbers -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ported() -> Run:
    faults = Faults(duplicate_ratio=0.05, out_of_order_ratio=0.1, late_ratio=0.1)
    return Run.of(generate(seed=12, count=12_000, faults=faults, recipients=Recipients(ported_share=0.2)))


def test_ported_numbers_are_looked_up_before_they_are_messaged(ported: Run) -> None:
    answers = ported.ported_answers()
    assert len(answers) > 30
    looked_up: dict[str, float] = defaultdict(float)  # phone -> when its look-up was last sent
    messaged = 0
    for index, callback, status in ported.statuses:
        if status.phone not in answers:
            continue
        if status.message_type == 4:
            looked_up[status.phone] = max(looked_up[status.phone], callback.sent_at)
            continue
        messaged += 1
        answer_index, answer = answers[status.phone]
        assert index > answer_index
        assert callback.sent_at >= looked_up[status.phone] + 60.0
        assert answer.hlr is not None
        network = NETWORKS[(answer.hlr.mcc or 0, answer.hlr.mnc or "")]
        assert network.country == "RU"
        assert network != destination_of(status.phone).network
    assert messaged > 300


def test_the_ported_share_of_recipients(ported: Run) -> None:
    answers = ported.ported_answers()
    sent = ported.message_phones()
    share = sum(phone in answers for phone in sent.values()) / len(sent)
    assert 0.15 < share < 0.21  # 0.2 once the first answers have settled


def test_the_settle_delay_is_an_option() -> None:
    recipients = Recipients(ported_share=0.5, ported_settle_seconds=600.0)
    run = Run.of(generate(seed=3, count=3_000, mix=SMS_ONLY, recipients=recipients, messages_per_second=1))
    answers = run.ported_answers()
    messaged = [c.sent_at for _, c, s in run.statuses if s.message_type != 4 and s.phone in answers]
    assert messaged
    assert min(messaged) >= min(run.callbacks[index].sent_at for index, _ in answers.values()) + 600.0


def test_the_truth_attributes_ported_numbers_to_the_network_that_answered(ported: Run) -> None:
    answers = ported.ported_answers()
    # Independently: the messages to a ported number opened after its answer arrived, by answered carrier.
    opened: dict[str, tuple[int, str]] = {}
    for index, callback, status in ported.statuses:
        opened.setdefault(callback.key, (index, status.phone))
    expected: Counter[str] = Counter()
    for index, phone in opened.values():
        if phone in answers and index > answers[phone][0]:
            hlr = answers[phone][1].hlr
            assert hlr is not None
            expected[NETWORKS[(hlr.mcc or 0, hlr.mnc or "")].carrier] += 1
    truth = ported.truth
    assert truth.total("smsc_destination_carrier_sources_total", source="hlr") == sum(expected.values())
    assert set(expected) == {"Beeline", "MegaFon", "MTS", "T2"}
    for carrier, count in expected.items():  # on top of the ranges' own messages
        assert truth.total("smsc_destination_messages_final_total", country="RU", carrier=carrier) > count


# -- sums over destinations ---------------------------------------------------------------------------


def test_sums_over_destinations_equal_the_totals() -> None:
    faults = Faults(duplicate_ratio=0.05, malformed_ratio=0.02, out_of_order_ratio=0.1, late_ratio=0.1)
    recipients = Recipients(degrade_carrier="T2", ported_share=0.1)
    truth = Truth.from_callbacks(generate(seed=2, count=10_000, faults=faults, recipients=recipients))

    finals: Counter[tuple[str, ...]] = Counter()
    for (account, type_, _sender, outcome), value in truth.values["smsc_messages_final_total"].items():
        finals[(account, type_, outcome)] += int(value)
    by_destination: Counter[tuple[str, ...]] = Counter()
    for labels, value in truth.values["smsc_destination_messages_final_total"].items():
        account, type_, _country, _carrier, outcome = labels
        by_destination[(account, type_, outcome)] += int(value)
    assert +by_destination == +finals

    costs: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for (account, type_, *_), value in truth.values["smsc_cost_total"].items():
        costs[(account, type_)] += value
    destination_costs: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for (account, type_, *_), value in truth.values["smsc_destination_cost_total"].items():
        destination_costs[(account, type_)] += value
    assert dict(destination_costs) == dict(costs)

    latencies: dict[tuple[str, str], list[float]] = defaultdict(list)
    for (account, type_, *_), observed in truth.observed["smsc_destination_delivery_latency_seconds"].items():
        latencies[(account, type_)] += observed
    assert {k: sorted(v) for k, v in latencies.items()} == {
        k: sorted(v) for k, v in truth.observed["smsc_delivery_latency_seconds"].items()
    }
    assert truth.total("smsc_destination_carrier_sources_total") == truth.inputs["messages"]
    for source in ("hlr", "range", "unknown"):
        assert truth.total("smsc_destination_carrier_sources_total", source=source) > 0
