"""Panel defaults of every dashboard: the datasource, the variables, sizes, units and the query helpers."""

from __future__ import annotations

from typing import Final

from grafana_foundation_sdk.builders import barchart, dashboard, prometheus, stat, table, timeseries
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from streams.contract import MetricSpec

#: The provisioned Prometheus datasource (dashboards/provisioning/datasources): fixed uid, never renamed.
DATASOURCE_UID: Final = "smsc-prometheus"
DATASOURCE: Final = model.DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)

#: The dashboard variables, each a multi-select with "All" = any value.
VARIABLES: Final = ("account", "type", "sender")

WIDTH: Final = 12
HEIGHT: Final = 8
RATE: Final = "$__rate_interval"


def selector(labels: tuple[str, ...] | MetricSpec, **matchers: str) -> str:
    """`{account=~"$account", ...}`: the dashboard variables the metric has as labels, then `matchers`
    (already PromQL, e.g. `outcome='="delivered"'`)."""
    names = labels.labels if isinstance(labels, MetricSpec) else labels
    parts = [f'{name}=~"${name}"' for name in VARIABLES if name in names]
    parts += [f"{name}{matcher}" for name, matcher in matchers.items()]
    return "{" + ", ".join(parts) + "}"


def series(spec: MetricSpec, suffix: str = "", **matchers: str) -> str:
    """The metric with the dashboard's variables applied, e.g. `smsc_errors_total{account=~"$account"}`."""
    return f"{spec.name}{suffix}{selector(spec, **matchers)}"


def recorded(name: str, spec: MetricSpec, **matchers: str) -> str:
    """A recorded series of `spec` (names.RECORDED) with the dashboard's variables applied: the recorded
    series keep the metric's labels, so the same variables narrow them."""
    return f"{name}{selector(spec, **matchers)}"


def query(expr: str, legend: str = "", ref_id: str = "A") -> prometheus.Dataquery:
    target = prometheus.Dataquery().expr(expr).ref_id(ref_id).datasource(DATASOURCE)
    return target.legend_format(legend) if legend else target


def table_query(expr: str, ref_id: str = "A") -> prometheus.Dataquery:
    """An instant query over the dashboard's time range, one row per series."""
    return query(expr, ref_id=ref_id).instant().format(PromQueryFormat.TABLE)


def _targets(*targets: prometheus.Dataquery) -> list[prometheus.Dataquery]:
    refs = "ABCDEFGHIJ"
    return [target.ref_id(refs[index]) for index, target in enumerate(targets)]


def timeseries_panel(
    title: str, *targets: prometheus.Dataquery, unit: str = "short", description: str = "", width: int = WIDTH
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .datasource(DATASOURCE)
        .targets(list(_targets(*targets)))
        .unit(unit)
        .span(width)
        .height(HEIGHT)
    )
    return panel.description(description) if description else panel


def stat_panel(title: str, target: prometheus.Dataquery, unit: str = "short", width: int = 6) -> stat.Panel:
    return stat.Panel().title(title).datasource(DATASOURCE).targets([target]).unit(unit).span(width).height(4)


def table_panel(title: str, *targets: prometheus.Dataquery, width: int = WIDTH) -> table.Panel:
    return (
        table.Panel()
        .title(title)
        .datasource(DATASOURCE)
        .targets(list(_targets(*targets)))
        .span(width)
        .height(HEIGHT)
        .with_transformation(
            model.DataTransformerConfig(id_val="organize", options={"excludeByName": {"Time": True}})
        )
    )


def bar_panel(
    title: str, target: prometheus.Dataquery, unit: str = "short", width: int = WIDTH, description: str = ""
) -> barchart.Panel:
    panel = (
        barchart.Panel()
        .title(title)
        .datasource(DATASOURCE)
        .targets([target])
        .unit(unit)
        .span(width)
        .height(HEIGHT)
    )
    return panel.description(description) if description else panel


def quantiles(spec_bucket: str, by: str = "le", *, rates: bool = False) -> list[prometheus.Dataquery]:
    """p50, p95 and p99 of a histogram's `_bucket` selector, or (`rates`) of a selector of recorded
    per-second bucket rates."""
    rate = spec_bucket if rates else f"rate({spec_bucket}[{RATE}])"
    return [
        query(f"histogram_quantile({q}, sum by ({by}) ({rate}))", f"p{round(q * 100)}")
        for q in (0.5, 0.95, 0.99)
    ]


def variable(name: str, spec: MetricSpec) -> dashboard.QueryVariable:
    """A multi-select of the label's values, narrowed by the variables before it."""
    before = VARIABLES[: VARIABLES.index(name)]
    narrowed = selector(tuple(label for label in spec.labels if label in before))
    return (
        dashboard.QueryVariable(name)
        .label(name)
        .datasource(DATASOURCE)
        .query({"query": f"label_values({spec.name}{narrowed}, {name})", "refId": "variable"})
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
    )


def new_dashboard(uid: str, title: str, description: str, variables_from: MetricSpec) -> dashboard.Dashboard:
    """A dashboard with the shared settings: stable `uid`, tags, time range, refresh, read-only; the
    variables of `VARIABLES` that `variables_from` has as labels."""
    board = (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["smsc"])
        .time("now-6h", "now")
        .refresh("1m")
        .timezone("browser")
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .readonly()
    )
    for name in VARIABLES:
        if name in variables_from.labels:
            board = board.with_variable(variable(name, variables_from))
    return board
