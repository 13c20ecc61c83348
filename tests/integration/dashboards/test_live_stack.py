"""The dashboards and the alert rules against real Prometheus (Debian's 2.42) and Alertmanager (0.25).

The embedded broker, a stream worker, ingest, Prometheus (scrape and rule evaluation every second) and
Alertmanager run on loopback; the simulator posts signed and unsigned callbacks of every kind, with
duplicates, malformed, unsigned and badly signed copies and callbacks for an unknown account, through
ingest over HTTP. Then:

- every PromQL expression of every panel is accepted by Prometheus and returns at least one finite value
  (a time-series panel over the run, a table query at its end), with the Grafana variables substituted as
  `tests.unit.dashboards.queries.grafana_to_promql` does; every variable offers values;
- every vector selector of every panel and rule returns series (a wrong metric or label name is named);
- no panel over the workers' aggregates (one series per source partition and worker) and no recorded
  series shows a `partition` or `instance` label: each sums them away;
- every rule is loaded and evaluates without error; every recorded series has data; every alert either
  fires in this run or is on a short list of alerts that cannot fire in a healthy minute (each with its
  reason, its expression asserted empty and its operands asserted to return data);
- an error burst makes SmscDeliveryErrorSpike fire, and its notification reaches a webhook receiver in
  this test process through Alertmanager; before the burst, with the same volume, it stays silent;
- one carrier failing (the simulator's `degrade_carrier`, MegaFon in Russia, for one account) makes
  SmscCarrierFailureSpike fire for that carrier alone, against the other Russian carriers of the account
  (no 7-day history: the day-one baseline), with the figures in its description.

Time scale. The spike alert compares the last hour with the same hour of the previous 7 days: that
history is backfilled (`promtool tsdb create-blocks-from openmetrics`) into the test Prometheus' data
directory before it starts: the two recorded series of the spiking account at 1000 final / 100 failed
messages per hour, every minute from 8 days ago until an hour ago, and the same of one of its carriers.
Prometheus loads a *derived copy* of `dashboards/prometheus/rules.yml` in which only every `for:` and the
group `interval:` are 1s, and Alertmanager a derived copy of `dashboards/alertmanager/alertmanager.yml` in
which only `group_wait` and `group_interval` are 1s and the webhook URL points at the test's receiver;
expressions, labels, annotations, thresholds, routes and inhibitions are the committed ones (asserted
below).
"""

from __future__ import annotations

import asyncio
import dataclasses
import heapq
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

import pytest
import yaml

from dashboards.src import names
from simulator import (
    ErrorBurst,
    Faults,
    Mix,
    Poster,
    PostPolicy,
    PostReport,
    Recipients,
    SimulatedCallback,
    WireConfig,
    generate,
)
from streams.contract import METRICS, PARTITION
from tests.integration.dashboards.live_stack import (
    COMMITTED_ALERTMANAGER,
    COMMITTED_RULES,
    Json,
    Notification,
    PrometheusApi,
    PrometheusError,
    Stack,
    Target,
    baseline_openmetrics,
    committed_jobs,
    derived_alertmanager,
    derived_rules,
    finite_values,
    live_stack,
    normalised,
    panel_targets,
    selectors,
    unix_seconds,
    variable_queries,
    without_am_timing,
    without_timing,
)
from tests.unit.dashboards.queries import grafana_to_promql, panel_queries, rules, series_names

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

SECRET: Final = "s3cr3t"
#: With a secret: unsigned and badly signed copies are answered 403, undecodable bodies 400.
SIGNED: Final = "signed"
#: Without a secret: the account whose delivery errors spike; its baseline history is backfilled.
SPIKY: Final = "spiky"
#: Not configured in ingest: 404.
UNKNOWN: Final = "nobody"
#: Without a secret: SMS of which those to one carrier mostly fail (no history: its country's other
#: carriers are its baseline).
CARRIERS: Final = "carriers"
DEGRADED: Final = {"account": CARRIERS, "country": "RU", "carrier": "MegaFon"}

#: The workers' aggregates (one series per partition and worker) and the rates recorded from them.
AGGREGATES: Final = frozenset(
    {spec.name for spec in METRICS if spec.per_partition}
    | {f"{spec.name}_bucket" for spec in METRICS if spec.buckets}
    | set(names.RECORDED)
)
WORKER: Final = frozenset({"instance", PARTITION})

#: The backfilled history of the spiking account's SMS: 10% failed, the simulator's usual share.
BASELINE: Final = {
    "account_type:smsc_messages_final:increase1h": 1000.0,
    "account_type:smsc_messages_failed:increase1h": 100.0,
}
BASELINE_RATIO: Final = 0.1
#: And of one of its carriers (the carrier alert's 7-day baseline; the others have only their peers).
CARRIER_BASELINE: Final = {
    "account_country_carrier:smsc_destination_messages_final:increase1h": 1000.0,
    "account_country_carrier:smsc_destination_messages_failed:increase1h": 100.0,
}
SMS_ONLY: Final = Mix(sms=1, flash=0, viber=0, voice=0, hlr=0, incoming=0, call_confirmation=0)
#: Simulated seconds after the start of the spiky workload at which its error burst begins.
BURST_AT: Final = 45.0
POST_RATE: Final = 300.0

#: Alerts that cannot fire in a healthy run of a minute: name -> (why, operands that must return data).
#: Each operand is a part of the committed expression (asserted); the whole expression must be empty.
QUIET_ALERTS: Final = {
    "SmscCallbacksStalled": (
        "needs 15 minutes without a status callback while messages are in flight",
        [
            "sum by (account) (smsc_messages_in_flight)",
            "sum by (account) (increase(smsc_status_callbacks_total[15m]))",
        ],
    ),
    "SmscConsumerLagHigh": (
        "needs more than 10000 raw records not yet processed",
        ["sum by (topic) (max by (topic, partition) (smsc_stream_consumer_lag_records))"],
    ),
    "SmscIngest5xx": (
        "the broker acknowledges every callback: no 5xx (the 503 series are initialised at 0)",
        [
            'sum(rate(smsc_ingest_requests_total{code=~"5.."}[5m]))'
            " / (sum(rate(smsc_ingest_requests_total[5m])) > 0)"
        ],
    ),
    "SmscTargetDown": (
        "every target is up",
        ['up{job=~"smsc-ingest|smsc-streams"}'],
    ),
}


@dataclass
class Scenario:
    stack: Stack
    began: float  # wall clock (Unix seconds) when every target was scraped, before the first callback
    reports: dict[str, PostReport]
    accepted: int
    before_burst: dict[str, float | None]
    spike_alerts_before_burst: list[Json]
    carrier_alerts: list[Json]  # SmscCarrierFailureSpike as Prometheus listed it once the carrier fired
    burst_posted: float  # time.monotonic()
    firing_seen: float | None = None  # time.monotonic() when Prometheus first listed the alert as firing
    notified: Notification | None = None
    notification: Json | None = None  # the alert in it
    timings: dict[str, float] = field(default_factory=dict)


def _post(stack: Stack, callbacks: Sequence[SimulatedCallback]) -> PostReport:
    """Posts as SMSC does, at POST_RATE; one attempt each (a 403/400/404 is the answer this test wants)."""
    policy = PostPolicy(rate_per_second=POST_RATE, concurrency=16, max_attempts=1, timeout_seconds=10)
    return asyncio.run(asyncio.wait_for(Poster(stack.callback_base, policy).run(callbacks), 90))


def _workloads(start: datetime) -> tuple[list[SimulatedCallback], list[SimulatedCallback]]:
    """(before the burst, the burst): every product for SIGNED with every fault, UNKNOWN, and SPIKY's SMS."""
    signed = generate(
        seed=7,
        count=2500,
        account=SIGNED,
        start=start,
        wire=WireConfig(secret=SECRET),
        faults=Faults(
            duplicate_ratio=0.03,
            malformed_ratio=0.03,
            unsigned_ratio=0.01,
            bad_signature_ratio=0.01,
            out_of_order_ratio=0.05,
            late_ratio=0.05,
        ),
    )
    unknown = [dataclasses.replace(callback, account=UNKNOWN) for callback in signed[:300:15]]
    spiky = generate(
        seed=8,
        count=2400,
        account=SPIKY,
        start=start,
        mix=SMS_ONLY,
        faults=Faults(error_bursts=(ErrorBurst(BURST_AT, 3600.0, ratio=0.9),)),
    )
    carriers = generate(
        seed=9,
        count=4000,
        account=CARRIERS,
        start=start,
        mix=SMS_ONLY,
        recipients=Recipients(degrade_carrier=f"{DEGRADED['country']}:{DEGRADED['carrier']}"),
    )
    burst_start = start.timestamp() + BURST_AT
    split = next(index for index, callback in enumerate(spiky) if callback.sent_at >= burst_start)
    before = list(
        heapq.merge(signed, unknown, carriers, spiky[:split], key=lambda callback: callback.sent_at)
    )
    return before, spiky[split:]


def _carrier_alerts(stack: Stack) -> list[Json]:
    return [
        alert
        for alert in stack.prometheus.alerts()
        if alert["labels"].get("alertname") == "SmscCarrierFailureSpike"
    ]


def _degraded_firing(stack: Stack) -> bool:
    return any(
        alert["state"] == "firing" and {k: alert["labels"].get(k) for k in DEGRADED} == DEGRADED
        for alert in _carrier_alerts(stack)
    )


def _spike_firing(stack: Stack) -> Json | None:
    for alert in stack.prometheus.alerts():
        labels = alert["labels"]
        if (
            labels.get("alertname") == "SmscDeliveryErrorSpike"
            and labels.get("account") == SPIKY
            and alert["state"] == "firing"
        ):
            return alert
    return None


def _notified(stack: Stack) -> tuple[Notification, Json] | None:
    for notification, alert in stack.receiver.alerts():
        labels = alert.get("labels", {})
        if labels.get("alertname") == "SmscDeliveryErrorSpike" and alert.get("status") == "firing":
            return notification, alert
    return None


@pytest.fixture(scope="module")
def scenario(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    directory = tmp_path_factory.mktemp("live-stack")
    now = time.time()
    history = {"start": now - 8 * 86400, "end": now - 3600, "step": 60}
    account = baseline_openmetrics(BASELINE, {"account": SPIKY, "type": "sms"}, **history)
    carrier = baseline_openmetrics(
        CARRIER_BASELINE, {"account": SPIKY, "country": "RU", "carrier": "MTS"}, **history
    )
    baseline = account.removesuffix("# EOF\n") + carrier
    # Cohort gauges count messages first seen in the last hour/day of the wall clock: start just before now.
    before, burst = _workloads(datetime.now(UTC) - timedelta(minutes=10))
    with live_stack(
        kafka_bootstrap,
        directory,
        account_secrets=f"{SIGNED}={SECRET},{SPIKY}=,{CARRIERS}=",
        baseline=baseline,
    ) as stack:
        began = time.time()
        prom = stack.prometheus
        reports = {"before": _post(stack, before)}
        accepted = reports["before"].outcomes.get("accepted", 0)

        def caught_up() -> bool:
            end = prom.value("sum(smsc_stream_end_offset)")
            lag = prom.value("sum(smsc_stream_consumer_lag_records)")
            return end is not None and end >= accepted and lag == 0

        stack.wait(caught_up, "the worker to process every stored callback (as Prometheus sees it)", 60)
        spiky_sms = f'{{account="{SPIKY}",type="sms"}}'
        final = f"account_type:smsc_messages_final:increase1h{spiky_sms}"
        stack.wait(
            lambda: (
                (prom.value(final) or 0) >= 100
                and prom.value(f"account_type:smsc_delivery_failure_ratio:same_hour_7d{spiky_sms}")
                is not None
            ),
            "SPIKY's last hour to reach 100 final SMS, with a baseline",
            30,
        )
        time.sleep(2)  # two more evaluations of every rule at this volume
        before_burst = {
            name: prom.value(f"{name}{spiky_sms}")
            for name in (
                "account_type:smsc_messages_final:increase1h",
                "account_type:smsc_delivery_failure_ratio:1h",
                "account_type:smsc_delivery_failure_ratio:same_hour_7d",
            )
        }
        silent = prom.query_range('ALERTS{alertname="SmscDeliveryErrorSpike"}', began, time.time())
        stack.wait(lambda: _degraded_firing(stack), "SmscCarrierFailureSpike for the degraded carrier", 60)
        carrier_alerts = _carrier_alerts(stack)

        reports["burst"] = _post(stack, burst)
        result = Scenario(
            stack, began, reports, accepted, before_burst, silent, carrier_alerts, time.monotonic()
        )
        deadline = time.monotonic() + 60
        while result.notified is None and time.monotonic() < deadline:
            stack.check_alive()
            if result.firing_seen is None and _spike_firing(stack) is not None:
                result.firing_seen = time.monotonic()
            if (notified := _notified(stack)) is not None:
                result.notified, result.notification = notified
            time.sleep(0.1)
        result.timings = {
            "start (worker, ingest, Alertmanager, Prometheus scraping)": stack.start_seconds,
            "posting before the burst": reports["before"].elapsed_seconds,
            "posting the burst": reports["burst"].elapsed_seconds,
        }
        if result.notified is not None and result.notification is not None:
            result.timings["burst posted -> webhook"] = result.notified.received - result.burst_posted
            # startsAt is when Prometheus' rule evaluation turned the alert to firing.
            fired = unix_seconds(str(result.notification["startsAt"]))
            result.timings["firing in Prometheus -> webhook"] = result.notified.received_wall - fired
        print("\nlive stack timings (s):", {name: round(value, 2) for name, value in result.timings.items()})
        print(f"{SPIKY}/sms before the burst:", before_burst)
        yield result


def test_the_derived_configs_change_only_the_time_scale_and_the_webhook_url() -> None:
    committed = yaml.safe_load(COMMITTED_RULES.read_text(encoding="utf-8"))
    derived = yaml.safe_load(derived_rules(COMMITTED_RULES.read_text(encoding="utf-8")))
    assert without_timing(derived) == without_timing(committed)
    assert any("for" in rule for group in derived["groups"] for rule in group["rules"])
    assert {rule.get("for", "1s") for group in derived["groups"] for rule in group["rules"]} == {"1s"}

    committed_am = yaml.safe_load(COMMITTED_ALERTMANAGER.read_text(encoding="utf-8"))
    derived_am = yaml.safe_load(
        derived_alertmanager(COMMITTED_ALERTMANAGER.read_text(encoding="utf-8"), "http://127.0.0.1:1")
    )
    assert without_am_timing(derived_am) == without_am_timing(committed_am)
    assert derived_am["route"]["group_wait"] == derived_am["route"]["group_interval"] == "1s"
    assert derived_am["receivers"][0]["webhook_configs"][0]["url"] == "http://127.0.0.1:1/alerts"


def test_the_error_spike_pages_through_alertmanager_and_not_before_the_burst(scenario: Scenario) -> None:
    answers = {name: report.answers for name, report in scenario.reports.items()}
    # Every clean callback stored; refusals as ingest must answer them; no 5xx, no timeout.
    assert set(answers["before"]) == {"200", "400", "403", "404"}, answers
    assert set(answers["burst"]) == {"200"}, answers

    before = scenario.before_burst
    assert before["account_type:smsc_delivery_failure_ratio:same_hour_7d"] == pytest.approx(BASELINE_RATIO)
    assert (before["account_type:smsc_messages_final:increase1h"] or 0) >= 100
    assert before["account_type:smsc_delivery_failure_ratio:1h"] is not None
    assert before["account_type:smsc_delivery_failure_ratio:1h"] < 3 * BASELINE_RATIO, before
    assert scenario.spike_alerts_before_burst == [], "the spike alert fired on the usual failure share"

    assert scenario.notification is not None, (
        f"no SmscDeliveryErrorSpike notification within 60 s of the burst (firing in Prometheus: "
        f"{scenario.firing_seen is not None}); received: {scenario.stack.receiver.received()}"
    )
    alert = scenario.notification
    assert scenario.notified is not None
    assert scenario.notified.path == "/alerts"  # the committed webhook URL's path
    assert scenario.notified.body["receiver"] == "webhook"
    assert alert["labels"] == {
        "alertname": "SmscDeliveryErrorSpike",
        "account": SPIKY,
        "type": "sms",
        "severity": "critical",
        **(scenario.stack.external_labels or {}),
    }
    assert alert["annotations"]["summary"] == f"Failed deliveries spiking for {SPIKY}/sms"
    assert "failed or expired" in alert["annotations"]["description"]
    assert scenario.firing_seen is not None
    # Measured ~2 s with 1 s intervals (evaluation, `for`, group_wait); bounded generously for slow CI.
    assert scenario.timings["firing in Prometheus -> webhook"] < 15, scenario.timings


def test_one_failing_carrier_fires_the_carrier_alert_alone(scenario: Scenario) -> None:
    """MegaFon's messages of CARRIERS fail ~65 %, its other Russian carriers' ~10 %: the carrier alert
    fires for MegaFon against them (no 7-day history here), and for no other carrier of the account."""
    firing = [alert for alert in scenario.carrier_alerts if alert["state"] == "firing"]
    of_carriers = [alert["labels"] for alert in firing if alert["labels"]["account"] == CARRIERS]
    assert of_carriers == [{"alertname": "SmscCarrierFailureSpike", "severity": "critical", **DEGRADED}]
    (alert,) = [alert for alert in firing if alert["labels"]["account"] == CARRIERS]
    assert alert["annotations"]["summary"] == f"Failed deliveries spiking to MegaFon (RU) for {CARRIERS}"
    description = alert["annotations"]["description"]
    assert f"of account {CARRIERS} to MegaFon in RU failed or expired (" in description, description
    assert "for the other carriers of RU in the last hour (no 7-day history yet)." in description
    # The figures are the recorded series': a ratio at least 3x the baseline, over 100 messages or more.
    prom = scenario.stack.prometheus
    labels = ",".join(f'{key}="{value}"' for key, value in DEGRADED.items())
    now = prom.value(f"account_country_carrier:smsc_destination_failure_ratio:1h{{{labels}}}")
    baseline = prom.value(f"account_country_carrier:smsc_destination_failure_ratio:baseline{{{labels}}}")
    messages = prom.value(f"account_country_carrier:smsc_destination_messages_final:increase1h{{{labels}}}")
    assert now is not None
    assert baseline is not None
    assert messages is not None
    assert now > 3 * baseline, (now, baseline)
    assert now - baseline > 0.05, (now, baseline)
    assert messages >= 100


def _evaluate(prom: PrometheusApi, target: Target, start: float, end: float) -> list[Json]:
    """As Grafana does: a table query once, at the end of the time range; a time series over the range."""
    expr = grafana_to_promql(target.expr)
    if target.instant:
        return prom.query(expr, at=end)
    return prom.query_range(expr, start, end)


def test_every_panel_query_returns_data(scenario: Scenario) -> None:
    """... and no panel over the workers' aggregates shows a series per partition or per worker."""
    prom = scenario.stack.prometheus
    end = time.time()
    targets = panel_targets()
    assert [(target.where, target.expr) for target in targets] == panel_queries()
    empty, split = [], []
    for target in targets:
        try:
            result = _evaluate(prom, target, scenario.began, end)
        except PrometheusError as exc:
            empty.append(f"{target.where}: {exc}")
            continue
        if not finite_values(result):
            empty.append(f"{target.where}: {grafana_to_promql(target.expr)} -> {result}")
        if series_names(grafana_to_promql(target.expr)) & AGGREGATES:
            split += [
                f"{target.where}: {series['metric']}" for series in result if WORKER & series["metric"].keys()
            ]
    assert empty == [], "panels without data:\n" + "\n".join(empty)
    assert split == [], "panels with a series per partition or worker:\n" + "\n".join(split)


def test_every_variable_offers_values(scenario: Scenario) -> None:
    prom = scenario.stack.prometheus
    empty = []
    for dashboard, selector, label in variable_queries():
        if not prom.label_values(label, grafana_to_promql(selector)):
            empty.append(f"{dashboard}: label_values({selector}, {label})")
    assert empty == []


def test_every_selector_of_every_panel_and_rule_returns_series(scenario: Scenario) -> None:
    prom = scenario.stack.prometheus
    wanted = {selector for _, expr in panel_queries() for selector in selectors(grafana_to_promql(expr))}
    wanted |= {selector for rule in rules() for selector in selectors(rule["expr"])}
    assert len(wanted) > 30
    empty = sorted(selector for selector in wanted if not prom.query(selector))
    assert empty == [], f"selectors without series: {empty}"


def test_every_rule_loads_evaluates_and_returns_data(scenario: Scenario) -> None:
    prom = scenario.stack.prometheus
    committed = rules()
    loaded = prom.rules()
    assert sorted(rule["name"] for rule in loaded) == sorted(
        rule.get("alert") or rule["record"] for rule in committed
    )
    assert [(rule["name"], rule["lastError"]) for rule in loaded if rule["health"] != "ok"] == []

    problems = []
    for rule in committed:
        if "record" in rule:
            recorded = prom.query(rule["record"])
            if not finite_values(recorded):
                problems.append(f"recorded {rule['record']}: no data")
            problems += [
                f"recorded {rule['record']}: {series['metric']} per partition or worker"
                for series in recorded
                if WORKER & series["metric"].keys()
            ]
            continue
        name = rule["alert"]
        result = prom.query(rule["expr"])
        if name in QUIET_ALERTS:
            _, operands = QUIET_ALERTS[name]
            if result:
                problems.append(f"{name} is on the quiet list but its expression returns {result}")
            for operand in operands:
                assert normalised(operand) in normalised(rule["expr"]), (name, operand)
                if not finite_values(prom.query(operand)):
                    problems.append(f"{name}: operand {operand} returns no data")
        elif not finite_values(result):
            problems.append(f"{name}: expected to fire in this run, its expression returns nothing")
    assert problems == []

    firing = {alert["labels"]["alertname"] for alert in prom.alerts() if alert["state"] == "firing"}
    assert firing == {rule["alert"] for rule in committed if "alert" in rule} - QUIET_ALERTS.keys()


def test_every_up_selector_sees_every_pipeline_job(scenario: Scenario) -> None:
    """`up{job=~...}` of a panel or a rule covers ingest and the workers as the committed config names
    their jobs (a misspelt job would leave a target unwatched while the selector still returns series)."""
    prom = scenario.stack.prometheus
    jobs = {target["labels"]["job"] for target in prom.targets()}
    assert jobs == set(committed_jobs())
    pipeline = {job for job in jobs if job.startswith("smsc-")}
    assert len(pipeline) == 2
    exprs = [grafana_to_promql(expr) for _, expr in panel_queries()] + [rule["expr"] for rule in rules()]
    ups = {selector for expr in exprs for selector in selectors(expr) if selector.startswith("up{")}
    assert len(ups) >= 2
    for selector in ups:
        assert {series["metric"]["job"] for series in prom.query(selector)} == pipeline, selector


def test_rebalances_are_counted_by_a_counter_and_none_is_in_progress(scenario: Scenario) -> None:
    """The "Worker rebalances" panel: the worker's first assignment is one completed rebalance (a real
    counter), and once it is settled no rebalance is in progress (Faust's `total_rebalances` gauge)."""
    prom = scenario.stack.prometheus
    assert (prom.value(f"sum({names.FAUST_REBALANCES_DONE})") or 0) >= 1
    assert prom.value(f"sum({names.FAUST_REBALANCING} + {names.FAUST_RECOVERING})") == 0


def test_every_dashboard_snapshot_draws_every_panel_from_the_live_prometheus(
    scenario: Scenario, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """`smsc-analytics dashboards snapshot` against this run's Prometheus (real scraped data): a PNG per
    generated dashboard, no panel "no data" or failed, each PNG non-trivial. With SMSC_SNAPSHOT_OUT=DIR the
    PNGs go to DIR (how docs/images/dashboards is made, docs/dashboards.md "Snapshots")."""
    import os
    from pathlib import Path

    import matplotlib.image
    import numpy as np

    from dashboards.build import GENERATED
    from dashboards.promql_http import PrometheusHttp
    from dashboards.snapshot import DRAWN, TimeRange, snapshot_all

    out = Path(os.environ.get("SMSC_SNAPSHOT_OUT") or tmp_path_factory.mktemp("snapshots"))
    # The run from 20 s before its first callback; the test Prometheus scrapes every second (TICK).
    end = time.time()
    span = TimeRange(end=end, seconds=round(end - scenario.began + 20), step_seconds=1, scrape_seconds=1)
    snapshots = snapshot_all(PrometheusHttp(scenario.stack.prometheus.base), out, span)

    assert [snapshot.path.name for snapshot in snapshots] == sorted(
        f"{path.stem}.png" for path in GENERATED.glob("*.json")
    )
    not_drawn = [
        f"{snapshot.uid} / {panel.title}: {panel.status} {panel.detail}"
        for snapshot in snapshots
        for panel in snapshot.panels
        if panel.status != DRAWN
    ]
    assert not_drawn == []
    for snapshot in snapshots:
        assert len(snapshot.panels) >= 6, snapshot.uid
        assert snapshot.path.stat().st_size > 50_000, snapshot.path
        pixels = np.asarray(matplotlib.image.imread(str(snapshot.path)))
        assert float(pixels[..., :3].std()) > 0.02, f"{snapshot.path} is (nearly) one colour"
