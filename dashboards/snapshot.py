"""A still picture of each generated Grafana dashboard: its panels drawn with matplotlib from Prometheus.

The definition drawn is the committed JSON of `dashboards/generated` (what Grafana is provisioned with), so
a snapshot cannot drift from the dashboard: the grid (`gridPos` on Grafana's 24 columns), rows as section
headers, titles, units, thresholds and legends (`legendFormat`) come from it. Variables take their
defaults ("All" is `allValue`, `.*`), Grafana's built-ins (`$__rate_interval`, `$__range`, `$__interval`)
are substituted as Grafana would before the PromQL is sent. Time series are range queries; stat, bar,
gauge and table panels are instant queries at the end of the range. No interactivity: a PNG per dashboard.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from matplotlib.axes import Axes
from matplotlib.colors import is_color_like
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator
from matplotlib.transforms import Bbox

from dashboards.build import GENERATED, iter_panels
from dashboards.promql_http import PrometheusHttp, PrometheusUnreachableError, QueryError

Json = dict[str, Any]

#: Grafana's grid: 24 columns; a height unit is 30 px beside a ~66 px column on a 1600 px screen.
GRID_COLUMNS: Final = 24
FIGURE_WIDTH_INCHES: Final = 18.0
ROW_UNIT_INCHES: Final = 0.36
HEADER_INCHES: Final = 0.7
GAP_INCHES: Final = 0.06
DPI: Final = 100

#: Grafana's dark theme, so that the picture reads as the dashboard people know.
BACKGROUND: Final = "#111217"
PANEL: Final = "#181b1f"
BORDER: Final = "#2c3235"
TEXT: Final = "#ccccdc"
MUTED: Final = "#8e8e9e"
ERROR: Final = "#f2495c"
#: Grafana's classic palette, in its order: series colours by position.
PALETTE: Final = (
    "#7eb26d", "#eab839", "#6ed0e0", "#ef843c", "#e24d42", "#1f78c1", "#ba43a9", "#705da0", "#508642",
    "#cca300", "#447ebc", "#c15c17", "#890f02", "#0a437c", "#6d1f62", "#584477",
)  # fmt: skip
#: Grafana's named colours (the ones thresholds use); other names go to matplotlib, then grey.
NAMED_COLOURS: Final = {
    "green": "#73bf69", "dark-green": "#37872d", "semi-dark-green": "#56a64b", "light-green": "#96d98d",
    "red": "#f2495c", "dark-red": "#c4162a", "semi-dark-red": "#e02f44", "light-red": "#ff7383",
    "yellow": "#fade2a", "dark-yellow": "#e0b400", "orange": "#ff9830", "dark-orange": "#fa6400",
    "blue": "#5794f2", "dark-blue": "#1f60c4", "purple": "#b877d9", "dark-purple": "#8f3bb8",
    "text": TEXT, "transparent": PANEL,
}  # fmt: skip
#: What Grafana applies to a panel whose JSON sets no thresholds (the plugins' default field config).
DEFAULT_THRESHOLDS: Final = {
    "mode": "absolute",
    "steps": [{"color": "green", "value": None}, {"color": "red", "value": 80}],
}
#: Panel types drawn from an instant query at the end of the range, reduced to one value per series.
INSTANT_TYPES: Final = frozenset({"stat", "gauge", "bargauge", "barchart", "table", "piechart"})

DRAWN, NO_DATA, FAILED, NOT_DRAWN = "drawn", "no data", "query failed", "type not drawn"


# -- values and units -----------------------------------------------------------------------------------

_DURATION: Final = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_SECONDS: Final = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    """Seconds of a Prometheus-style duration: `30m`, `1h30m`, `90s`, `2d`; a bare number is seconds."""
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        parts = _DURATION.findall(text)
        if not parts or "".join(number + suffix for number, suffix in parts) != text:
            raise ValueError(f"not a duration: {text!r} (e.g. 30m, 1h, 90s, 2d)") from None
        seconds = sum(float(number) * _SECONDS[suffix] for number, suffix in parts)
    if not seconds > 0:
        raise ValueError(f"not a positive duration: {text!r}")
    return seconds


def _trimmed(value: float, decimals: int | None) -> str:
    if decimals is not None:
        return f"{value:.{decimals}f}"
    magnitude = abs(value)
    auto = (
        0
        if magnitude >= 100 or value == int(value)
        else 1
        if magnitude >= 10
        else 2
        if magnitude >= 0.01
        else 4
    )
    text = f"{value:.{auto}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _scaled(value: float, steps: Sequence[tuple[float, str]], decimals: int | None) -> str:
    """The value divided by the largest step it reaches, with that step's suffix."""
    factor, suffix = steps[0]
    for step_factor, step_suffix in steps:
        if abs(value) >= step_factor:
            factor, suffix = step_factor, step_suffix
    return f"{_trimmed(value / factor, decimals)}{suffix}"


_SHORT: Final = ((1.0, ""), (1e3, " K"), (1e6, " Mil"), (1e9, " Bil"), (1e12, " Tri"))
_BYTES: Final = ((1.0, " B"), (1024.0, " KiB"), (1024.0**2, " MiB"), (1024.0**3, " GiB"), (1024.0**4, " TiB"))
_DECBYTES: Final = ((1.0, " B"), (1e3, " kB"), (1e6, " MB"), (1e9, " GB"), (1e12, " TB"))
_TIME: Final = (
    (1e-6, " µs"),
    (1e-3, " ms"),
    (1.0, " s"),
    (60.0, " min"),
    (3600.0, " hour"),
    (86400.0, " day"),
)
_CURRENCY_PREFIX: Final = {"currencyUSD": "$", "currencyEUR": "€", "currencyGBP": "£", "currencyJPY": "¥"}
_RATE_SUFFIX: Final = {"ops": " ops/s", "reqps": " req/s", "rps": " req/s", "wps": " wps", "cps": " c/s"}


def format_value(value: float, unit: str | None, decimals: int | None = None) -> str:
    """The value as Grafana's unit shows it: `percentunit` 0.93 -> `93%`, `s` 0.25 -> `250 ms`,
    `bytes`, `currencyUSD`, `reqps`, `short` (K, Mil) ...; an unknown unit is a suffix."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    unit = unit or "none"
    if unit == "none":
        return _trimmed(value, decimals)
    if unit == "percentunit":
        return f"{_trimmed(value * 100, decimals)}%"
    if unit == "percent":
        return f"{_trimmed(value, decimals)}%"
    if unit in ("s", "ms", "µs", "us", "ns"):
        seconds = value * {"s": 1.0, "ms": 1e-3, "µs": 1e-6, "us": 1e-6, "ns": 1e-9}[unit]
        return "0 s" if seconds == 0 else _scaled(seconds, _TIME, decimals)
    if unit == "bytes":
        return _scaled(value, _BYTES, decimals)
    if unit == "decbytes":
        return _scaled(value, _DECBYTES, decimals)
    if unit in _CURRENCY_PREFIX:
        sign = "-" if value < 0 else ""
        return f"{sign}{_CURRENCY_PREFIX[unit]}{_scaled(abs(value), _SHORT, decimals)}"
    if unit == "currencyRUB":
        return f"{_scaled(value, _SHORT, decimals)} ₽"
    if unit in _RATE_SUFFIX:
        return _scaled(value, _SHORT, decimals) + _RATE_SUFFIX[unit]
    if unit == "short":
        return _scaled(value, _SHORT, decimals)
    if unit.startswith("suffix:"):
        return _trimmed(value, decimals) + unit.removeprefix("suffix:")
    if unit.startswith("prefix:"):
        return unit.removeprefix("prefix:") + _trimmed(value, decimals)
    return f"{_scaled(value, _SHORT, decimals)} {unit}"


def colour(name: str | None) -> str:
    """A Grafana colour name (`green`, `dark-red`, `#73bf69`) as matplotlib takes it."""
    if not name:
        return PALETTE[0]
    if name in NAMED_COLOURS:
        return NAMED_COLOURS[name]
    return name if is_color_like(name) else MUTED


def threshold_colour(value: float, thresholds: Json) -> str:
    """The colour of the highest step whose value the value reaches (the base step has `value: null`)."""
    chosen = None
    for step in thresholds.get("steps") or []:
        limit = step.get("value")
        if limit is None or value >= float(limit):
            chosen = step.get("color")
    return colour(chosen)


# -- queries --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeRange:
    """The range drawn, with what Grafana derives from it for the PromQL it sends."""

    end: float  # Unix seconds
    seconds: float
    step_seconds: float
    scrape_seconds: float = 15.0  # the datasource's scrape interval (Grafana's default is 15 s)

    @property
    def start(self) -> float:
        return self.end - self.seconds

    @property
    def rate_interval_seconds(self) -> float:
        """Grafana's `$__rate_interval`: max(`$__interval` + scrape interval, 4 x scrape interval)."""
        return max(self.step_seconds + self.scrape_seconds, 4 * self.scrape_seconds)

    def builtins(self) -> dict[str, str]:
        return {
            "__rate_interval": _promql_duration(self.rate_interval_seconds),
            "__interval": _promql_duration(self.step_seconds),
            "__interval_ms": str(round(self.step_seconds * 1000)),
            "__range": _promql_duration(self.seconds),
            "__range_s": str(round(self.seconds)),
            "__range_ms": str(round(self.seconds * 1000)),
        }


def default_step(range_seconds: float) -> float:
    """About 240 points across the range (Grafana: about one per pixel column, at most 11000), >= 1 s."""
    return float(max(1, math.ceil(range_seconds / 240)))


def _promql_duration(seconds: float) -> str:
    return f"{round(seconds * 1000)}ms" if seconds != int(seconds) else f"{int(seconds)}s"


def variable_defaults(dashboard: Json) -> dict[str, str]:
    """name -> the value each dashboard variable has when the dashboard opens: its saved `current`, else
    "All" (`allValue`, `.*` when unset) for a variable that includes All, else its first option."""
    values = {}
    for variable in (dashboard.get("templating") or {}).get("list") or []:
        name = str(variable["name"])
        current = (variable.get("current") or {}).get("value")
        chosen = current if isinstance(current, list) else [current] if current else []
        if (not chosen or "$__all" in chosen) and variable.get("includeAll"):
            values[name] = str(variable.get("allValue") or ".*")
        elif chosen:
            values[name] = "|".join(str(value) for value in chosen)
        else:
            options = [option.get("value") for option in variable.get("options") or []]
            values[name] = str(options[0]) if options else ".*"
    return values


_VARIABLE: Final = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)\]\]|\$(\w+)")


def substitute(expr: str, variables: dict[str, str]) -> str:
    """The PromQL Grafana sends: every `$name`, `${name}`, `[[name]]` replaced; unknown ones kept."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        return variables.get(name, match.group(0))

    return _VARIABLE.sub(replace, expr)


def legend(template: str | None, labels: dict[str, str], expr: str) -> str:
    """Grafana's series name: the `legendFormat` with `{{label}}` filled, else `name{labels}`."""
    if template and template != "__auto":
        return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda match: labels.get(match.group(1), ""), template)
    name = labels.get("__name__", "")
    rest = ", ".join(f'{key}="{value}"' for key, value in labels.items() if key != "__name__")
    if not name and not rest:
        return expr
    return f"{name}{{{rest}}}" if rest else name


@dataclass
class Series:
    name: str
    labels: dict[str, str]
    times: list[float]
    values: list[float]
    ref_id: str = "A"


def _number(text: Any) -> float:
    return float(text)  # Prometheus sends "NaN", "+Inf", "-Inf" as strings float() reads


def fetch(
    prometheus: PrometheusHttp, panel: Json, variables: dict[str, str], span: TimeRange
) -> list[Series]:
    """Every series of every query of the panel, named by its legend; range or instant as the panel is."""
    found = []
    instant_panel = panel.get("type") in INSTANT_TYPES
    for target in panel.get("targets") or []:
        if target.get("hide") or not target.get("expr"):
            continue
        expr = substitute(str(target["expr"]), variables)
        ref_id = str(target.get("refId") or "A")
        if instant_panel or (target.get("instant") and not target.get("range")):
            for sample in prometheus.query(expr, span.end):
                labels = {str(key): str(value) for key, value in sample["metric"].items()}
                at, value = sample["value"]
                name = legend(target.get("legendFormat"), labels, expr)
                found.append(Series(name, labels, [float(at)], [_number(value)], ref_id))
        else:
            step = span.step_seconds
            start = math.floor(span.start / step) * step  # aligned as Grafana aligns it
            for result in prometheus.query_range(expr, start, span.end, step):
                labels = {str(key): str(value) for key, value in result["metric"].items()}
                times = [float(at) for at, _ in result["values"]]
                values = [_number(value) for _, value in result["values"]]
                found.append(
                    Series(legend(target.get("legendFormat"), labels, expr), labels, times, values, ref_id)
                )
    return found


# -- drawing --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PanelReport:
    title: str
    type: str
    status: str  # DRAWN, NO_DATA, FAILED or NOT_DRAWN
    detail: str = ""


@dataclass
class DashboardSnapshot:
    """What was drawn: the PNG and every panel's outcome (rows are not panels here)."""

    uid: str
    title: str
    path: Path
    panels: list[PanelReport] = field(default_factory=list)

    def titles(self, status: str | None = None) -> list[str]:
        return [panel.title for panel in self.panels if status is None or panel.status == status]


class _Grid:
    """Figure coordinates of Grafana's grid cells (y grows downwards in Grafana, upwards in matplotlib)."""

    def __init__(self, figure: Figure, units_high: int, span: TimeRange) -> None:
        self.figure = figure
        self.span = span
        self.height_inches = HEADER_INCHES + units_high * ROW_UNIT_INCHES + GAP_INCHES
        figure.set_size_inches(FIGURE_WIDTH_INCHES, self.height_inches)

    def box(self, grid: Json) -> tuple[float, float, float, float]:
        """(left, bottom, width, height) in inches of a gridPos, less the gap between panels."""
        column = FIGURE_WIDTH_INCHES / GRID_COLUMNS
        left = float(grid.get("x", 0)) * column + GAP_INCHES
        width = float(grid.get("w", GRID_COLUMNS)) * column - 2 * GAP_INCHES
        top = HEADER_INCHES + float(grid.get("y", 0)) * ROW_UNIT_INCHES + GAP_INCHES
        height = float(grid.get("h", 8)) * ROW_UNIT_INCHES - 2 * GAP_INCHES
        return left, self.height_inches - top - height, width, height

    def axes(self, left: float, bottom: float, width: float, height: float) -> Axes:
        """Axes at a box in inches."""
        figure_width, figure_height = FIGURE_WIDTH_INCHES, self.height_inches
        rect = (
            left / figure_width,
            bottom / figure_height,
            max(width, 0.01) / figure_width,
            max(height, 0.01) / figure_height,
        )
        return self.figure.add_axes(rect)


def _style(axes: Axes, unit: str | None, decimals: int | None) -> None:
    axes.set_facecolor(PANEL)
    for spine in axes.spines.values():
        spine.set_visible(False)
    axes.tick_params(colors=MUTED, labelsize=7, length=0, pad=3)
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: format_value(value, unit, decimals)))
    axes.yaxis.set_major_locator(MaxNLocator(nbins=4))
    axes.grid(True, color=BORDER, linewidth=0.6)
    axes.set_axisbelow(True)


def _message(axes: Axes, text: str, tint: str = MUTED) -> None:
    axes.set_facecolor(PANEL)
    axes.set_axis_off()
    axes.text(
        0.5, 0.5, text, color=tint, fontsize=11, ha="center", va="center", transform=axes.transAxes, wrap=True
    )


def _field_defaults(panel: Json) -> Json:
    defaults: Json = (panel.get("fieldConfig") or {}).get("defaults") or {}
    return defaults


def _draw_timeseries(
    grid: _Grid, box: tuple[float, float, float, float], panel: Json, series: list[Series]
) -> None:
    left, bottom, width, height = box
    defaults = _field_defaults(panel)
    unit, decimals = defaults.get("unit"), defaults.get("decimals")
    legend_options = (panel.get("options") or {}).get("legend") or {}
    show_legend = legend_options.get("showLegend", True) and legend_options.get("displayMode") != "hidden"
    columns = max(1, int(width / 2.2))
    legend_rows = min(3, math.ceil(len(series) / columns)) if show_legend else 0
    legend_height = 0.17 * legend_rows
    axes = grid.axes(left + 0.55, bottom + 0.22 + legend_height, width - 0.65, height - 0.3 - legend_height)
    _style(axes, unit, decimals)
    for index, item in enumerate(series):
        axes.plot(
            item.times, item.values, color=PALETTE[index % len(PALETTE)], linewidth=1.2, label=item.name
        )
    _time_axis(axes, grid.span.start, grid.span.end)
    if defaults.get("min") is not None:
        axes.set_ylim(bottom=float(defaults["min"]))
    if defaults.get("max") is not None:
        axes.set_ylim(top=float(defaults["max"]))
    style = ((defaults.get("custom") or {}).get("thresholdsStyle") or {}).get("mode", "off")
    thresholds = defaults.get("thresholds")
    if thresholds and style != "off":
        for step in thresholds.get("steps") or []:
            if step.get("value") is not None:
                axes.axhline(
                    float(step["value"]), color=colour(step.get("color")), linestyle="--", linewidth=1
                )
    if legend_rows:
        shown = columns * legend_rows
        handles, labels = axes.get_legend_handles_labels()
        if len(labels) > shown:
            labels = [*labels[: shown - 1], f"… {len(labels) - shown + 1} more"]
            handles = [*handles[: shown - 1], handles[shown - 1]]
        axes.legend(
            handles[:shown],
            labels[:shown],
            loc="upper left",
            ncol=columns,
            fontsize=7,
            frameon=False,
            labelcolor=TEXT,
            bbox_to_anchor=(-0.05, -0.1),
            handlelength=1.2,
            columnspacing=1.0,
            borderaxespad=0,
        )


#: Spacing of time ticks in seconds, the first that gives at most 7 ticks.
_TICK_SPACINGS: Final = (
    1,
    5,
    10,
    15,
    30,
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    10800,
    21600,
    43200,
    86400,
)


def _time_axis(axes: Axes, first: float, last: float) -> None:
    """Local wall-clock ticks at round times (every 5 min, 1 h ...) across the range."""
    span = max(last - first, 1.0)
    spacing = next((every for every in _TICK_SPACINGS if span / every <= 7), _TICK_SPACINGS[-1])
    offset = datetime.fromtimestamp(first).astimezone().utcoffset()
    shift = offset.total_seconds() if offset is not None else 0.0
    tick = math.ceil((first + shift) / spacing) * spacing - shift  # round in local time, not in UTC
    ticks = []
    while tick <= last:
        ticks.append(tick)
        tick += spacing
    pattern = "%H:%M:%S" if spacing < 60 else "%H:%M" if spacing < 86400 else "%m-%d"
    axes.xaxis.set_major_locator(FixedLocator(ticks))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda at, _: datetime.fromtimestamp(at).strftime(pattern)))
    axes.set_xlim(first, last)


def _last(item: Series) -> float:
    return item.values[-1] if item.values else math.nan


def _draw_stat(
    grid: _Grid, box: tuple[float, float, float, float], panel: Json, series: list[Series]
) -> None:
    left, bottom, width, height = box
    defaults = _field_defaults(panel)
    thresholds = defaults.get("thresholds") or DEFAULT_THRESHOLDS
    axes = grid.axes(left, bottom, width, height)
    axes.set_axis_off()
    shown = series[:6]
    cell = 1.0 / len(shown)
    for index, item in enumerate(shown):
        value = _last(item)
        text = format_value(value, defaults.get("unit"), defaults.get("decimals"))
        # Bold digits are about 0.62 of the font size wide; fill the cell's width or its height.
        size = min(0.5 * height * 72, width * cell * 0.85 * 72 / (0.62 * max(len(text), 2)), 44)
        centre = cell * (index + 0.5)
        tint = threshold_colour(value, thresholds) if not math.isnan(value) else MUTED
        axes.text(
            centre,
            0.42,
            text,
            color=tint,
            fontsize=size,
            fontweight="bold",
            ha="center",
            va="center",
            transform=axes.transAxes,
        )
        name = " ".join(value for key, value in item.labels.items() if key != "__name__")
        if len(shown) > 1 and name:
            axes.text(
                centre,
                0.92,
                name[: int(width * cell * 12)],
                color=TEXT,
                fontsize=8,
                ha="center",
                va="center",
                transform=axes.transAxes,
            )


def _category(item: Series) -> str:
    """A bar's label: the legend when the panel sets one, else the series' label values."""
    if item.name and not any(mark in item.name for mark in "{("):
        return item.name
    shown = [value for key, value in item.labels.items() if key != "__name__"]
    return " · ".join(shown) or item.name


def _draw_bars(
    grid: _Grid, box: tuple[float, float, float, float], panel: Json, series: list[Series]
) -> None:
    """Bar gauge and bar chart alike: a horizontal bar per series, its value at its end."""
    left, bottom, width, height = box
    defaults = _field_defaults(panel)
    unit, decimals = defaults.get("unit"), defaults.get("decimals")
    thresholds = defaults.get("thresholds") or DEFAULT_THRESHOLDS
    rows = max(1, int((height - 0.35) / 0.2))
    shown = sorted(series, key=_last, reverse=True)[:rows]
    names = [_category(item) for item in shown]
    label_width = min(width * 0.4, 0.2 + 0.062 * max(len(name) for name in names))
    axes = grid.axes(left + label_width, bottom + 0.25, width - label_width - 0.25, height - 0.35)
    _style(axes, unit, decimals)
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: format_value(value, unit, decimals)))
    axes.xaxis.set_major_locator(MaxNLocator(nbins=4))
    axes.grid(False, axis="y")
    values = [0.0 if math.isnan(_last(item)) else _last(item) for item in shown]
    if panel.get("type") == "bargauge":
        tints = [threshold_colour(value, thresholds) for value in values]
    else:
        tints = [PALETTE[0]] * len(values)
    positions = list(range(len(shown)))
    axes.barh(positions, values, color=tints, height=0.7)
    axes.set_yticks(positions, [name[:48] for name in names], fontsize=7, color=TEXT)
    axes.invert_yaxis()
    peak = max(values) if values and max(values) > 0 else 1.0
    axes.set_xlim(0, peak * 1.25)
    for position, value in zip(positions, values, strict=True):
        axes.text(
            value + peak * 0.02,
            position,
            format_value(value, unit, decimals),
            color=TEXT,
            fontsize=7,
            va="center",
        )
    if len(series) > len(shown):
        axes.set_title(f"top {len(shown)} of {len(series)}", fontsize=7, color=MUTED, loc="right")


def _table_rows(series: list[Series], merged: bool) -> list[tuple[dict[str, str], dict[str, float]]]:
    """(labels, value per query ref) of each table row: one per series, or, after Grafana's `merge`
    transformation, one per label set, holding the value of every query that returned it."""
    if not merged:
        return [(item.labels, {item.ref_id: _last(item)}) for item in series]
    rows: dict[tuple[tuple[str, str], ...], tuple[dict[str, str], dict[str, float]]] = {}
    for item in series:
        labels = {key: value for key, value in item.labels.items() if key != "__name__"}
        rows.setdefault(tuple(sorted(labels.items())), (labels, {}))[1][item.ref_id] = _last(item)
    return list(rows.values())


def _sort_key(value: float | None) -> float:
    """Missing and NaN values sort below every number, as Grafana puts empty cells last (descending)."""
    return -math.inf if value is None or math.isnan(value) else value


def _units_by_name(panel: Json) -> dict[str, str]:
    """Column name -> unit of the panel's `byName` overrides that set one."""
    units = {}
    for override in (panel.get("fieldConfig") or {}).get("overrides") or []:
        matcher = override.get("matcher") or {}
        for prop in override.get("properties") or []:
            if matcher.get("id") == "byName" and prop.get("id") == "unit":
                units[str(matcher.get("options"))] = str(prop.get("value"))
    return units


def table_contents(panel: Json, series: list[Series]) -> tuple[list[str], list[list[str]]]:
    """The header and the rows of Grafana's table of instant queries, as text: a column per label, then
    `Value` (`Value #A` per query); the panel's transformations `merge` (a row per label set) and
    `organize` (hidden and renamed columns), its first `sortBy` and its `byName` unit overrides."""
    defaults = _field_defaults(panel)
    excluded: set[str] = set()
    renamed: dict[str, str] = {}
    merged = False
    for transformation in panel.get("transformations") or []:
        if transformation.get("id") == "organize":
            options = transformation.get("options") or {}
            excluded |= {name for name, hide in (options.get("excludeByName") or {}).items() if hide}
            renamed.update(options.get("renameByName") or {})
        merged = merged or transformation.get("id") == "merge"
    units = _units_by_name(panel)
    ref_ids = sorted({item.ref_id for item in series})
    value_columns = {"Value": ref_ids[0]} if len(ref_ids) == 1 else {f"Value #{ref}": ref for ref in ref_ids}
    rows = _table_rows(series, merged)
    for sort in ((panel.get("options") or {}).get("sortBy") or [])[:1]:  # Grafana sorts by one column
        shown = sort.get("displayName")
        by = [ref for name, ref in value_columns.items() if shown in (name, renamed.get(name))]
        if by:
            rows.sort(key=lambda row: _sort_key(row[1].get(by[0])), reverse=bool(sort.get("desc")))
    label_columns: list[str] = []
    for labels, _ in rows:
        label_columns += [key for key in labels if key != "__name__" and key not in label_columns]
    columns = [name for name in [*label_columns, *value_columns] if name not in excluded]
    cells = []
    for labels, values in rows:
        row = []
        for name in columns:
            if name in labels:
                row.append(labels[name][:40])
            elif name in value_columns and value_columns[name] in values:
                unit = units.get(renamed.get(name, name), defaults.get("unit"))
                row.append(format_value(values[value_columns[name]], unit, defaults.get("decimals")))
            else:
                row.append("")
        cells.append(row)
    return [renamed.get(name, name) for name in columns], cells


def _draw_table(
    grid: _Grid, box: tuple[float, float, float, float], panel: Json, series: list[Series]
) -> None:
    """Grafana's table of instant queries (`table_contents`), as many rows as fit."""
    left, bottom, width, height = box
    header, every_row = table_contents(panel, series)
    fitting = max(1, int(height / 0.22) - 1)
    cells = every_row[:fitting]
    axes = grid.axes(left + 0.05, bottom, width - 0.1, height)
    axes.set_axis_off()
    row_fraction = min(0.22 / max(height, 0.01), 1.0 / (len(cells) + 1))
    # Columns as wide as their longest text (scaled to the panel), as Grafana sizes them.
    widths = [
        max(len(str(text)) for text in [name, *(row[index] for row in cells)])
        for index, name in enumerate(header)
    ]
    drawn = axes.table(
        colWidths=[min(max(chars, 4), 40) for chars in widths],
        cellText=cells,
        colLabels=header,
        loc="upper center",
        cellLoc="left",
        bbox=Bbox.from_bounds(
            0.0, 1.0 - row_fraction * (len(cells) + 1), 1.0, row_fraction * (len(cells) + 1)
        ),
    )
    drawn.auto_set_font_size(False)
    drawn.set_fontsize(7)
    for (row_index, _), cell in drawn.get_celld().items():
        cell.set_edgecolor(BORDER)
        cell.set_facecolor(BORDER if row_index == 0 else PANEL)
        cell.get_text().set_color(TEXT)
    if len(every_row) > fitting:
        axes.text(
            1.0,
            0.0,
            f"… {len(every_row) - fitting} more rows",
            color=MUTED,
            fontsize=7,
            ha="right",
            transform=axes.transAxes,
        )


_DRAWERS: Final[dict[str, Callable[[_Grid, tuple[float, float, float, float], Json, list[Series]], None]]] = {
    "timeseries": _draw_timeseries,
    "graph": _draw_timeseries,
    "stat": _draw_stat,
    "gauge": _draw_stat,
    "bargauge": _draw_bars,
    "barchart": _draw_bars,
    "table": _draw_table,
}


def _card(
    grid: _Grid, box: tuple[float, float, float, float], title: str
) -> tuple[float, float, float, float]:
    """The panel's background and title; the box left for its content."""
    left, bottom, width, height = box
    figure_width, figure_height = FIGURE_WIDTH_INCHES, grid.height_inches
    grid.figure.patches.append(
        FancyBboxPatch(
            (left / figure_width, bottom / figure_height),
            width / figure_width,
            height / figure_height,
            boxstyle="round,pad=0,rounding_size=0.002",
            facecolor=PANEL,
            edgecolor=BORDER,
            linewidth=0.8,
            transform=grid.figure.transFigure,
            figure=grid.figure,
            zorder=-1,  # behind the panel's axes (zorder 0)
        )
    )
    grid.figure.text(
        (left + 0.1) / figure_width,
        (bottom + height - 0.16) / figure_height,
        title,
        color=TEXT,
        fontsize=9,
        fontweight="bold",
        va="center",
        ha="left",
    )
    return left + 0.05, bottom + 0.05, width - 0.1, height - 0.35


def render(
    dashboard: Json, prometheus: PrometheusHttp, span: TimeRange, path: Path, uid: str | None = None
) -> DashboardSnapshot:
    """Draws the dashboard to `path` (PNG, replaced atomically) and reports every panel's outcome.

    Raises PrometheusUnreachableError when Prometheus stops answering; a query Prometheus refuses is drawn as
    an error in its panel (status FAILED) and the rest of the dashboard is drawn.
    """
    variables = {**variable_defaults(dashboard), **span.builtins()}
    panels = list(iter_panels(dashboard.get("panels") or []))
    bottoms = [int(grid.get("y", 0)) + int(grid.get("h", 1)) for grid in _grids(panels)]
    units_high = max(bottoms, default=1)
    figure = Figure(facecolor=BACKGROUND, dpi=DPI)
    grid = _Grid(figure, units_high, span)
    snapshot = DashboardSnapshot(uid or str(dashboard.get("uid")), str(dashboard.get("title")), path)
    _header(grid, dashboard, span, variables)
    for panel in panels:
        kind, title = str(panel.get("type")), str(panel.get("title") or "")
        box = grid.box(panel.get("gridPos") or {})
        if kind == "row":
            _row(grid, box, title)
            continue
        content = _card(grid, box, title)
        drawer = _DRAWERS.get(kind)
        if drawer is None:
            _message(grid.axes(*content), f"({kind} panels are not drawn in snapshots)")
            snapshot.panels.append(PanelReport(title, kind, NOT_DRAWN))
            continue
        try:
            series = fetch(prometheus, panel, variables, span)
        except QueryError as exc:
            _message(grid.axes(*content), f"query failed:\n{exc}"[:300], ERROR)
            snapshot.panels.append(PanelReport(title, kind, FAILED, str(exc)))
            continue
        if not any(not math.isnan(value) for item in series for value in item.values):
            _message(grid.axes(*content), "No data")
            snapshot.panels.append(PanelReport(title, kind, NO_DATA))
            continue
        drawer(grid, content, panel, series)
        snapshot.panels.append(PanelReport(title, kind, DRAWN, f"{len(series)} series"))
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    figure.savefig(partial, format="png", facecolor=BACKGROUND, dpi=DPI)
    os.replace(partial, path)
    return snapshot


def _grids(panels: list[Json]) -> list[Json]:
    return [panel["gridPos"] for panel in panels if panel.get("gridPos")]


def _readable_duration(seconds: float) -> str:
    """`30m`, `1h30m`, `15s`: the largest units that divide the duration."""
    parts, left = [], round(seconds)
    for suffix, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if left >= size:
            parts.append(f"{left // size}{suffix}")
            left %= size
    return "".join(parts) or f"{seconds:g}s"


def _header(grid: _Grid, dashboard: Json, span: TimeRange, variables: dict[str, str]) -> None:
    height = grid.height_inches
    grid.figure.text(
        GAP_INCHES / FIGURE_WIDTH_INCHES,
        (height - 0.3) / height,
        str(dashboard.get("title")),
        color=TEXT,
        fontsize=15,
        fontweight="bold",
        va="center",
    )
    start, end = (datetime.fromtimestamp(at).astimezone() for at in (span.start, span.end))
    shown = [
        f"{name} = {'All' if value == '.*' else value}"
        for name, value in variables.items()
        if not name.startswith("__")
    ]
    length, step = _readable_duration(span.seconds), _readable_duration(span.step_seconds)
    subtitle = f"{start:%Y-%m-%d %H:%M} – {end:%H:%M %Z}   ({length}, step {step})"
    if shown:
        subtitle += "    " + ",  ".join(shown)
    grid.figure.text(
        (FIGURE_WIDTH_INCHES - GAP_INCHES) / FIGURE_WIDTH_INCHES,
        (height - 0.3) / height,
        subtitle,
        color=MUTED,
        fontsize=9,
        va="center",
        ha="right",
    )


def _row(grid: _Grid, box: tuple[float, float, float, float], title: str) -> None:
    left, bottom, _, height = box
    figure_height = grid.height_inches
    middle = (bottom + height / 2) / figure_height
    grid.figure.text(
        left / FIGURE_WIDTH_INCHES,
        middle,
        f"⌄ {title}",
        color=TEXT,
        fontsize=12,
        fontweight="bold",
        va="center",
    )


# -- every dashboard, and the command -------------------------------------------------------------------


def snapshot_all(
    prometheus: PrometheusHttp, out_dir: Path, span: TimeRange, source: Path = GENERATED
) -> list[DashboardSnapshot]:
    """One PNG per generated dashboard (`<uid>.png` in `out_dir`), in file-name order."""
    prometheus.query("1", span.end)  # unreachable: fail before any file is replaced
    snapshots = []
    for definition in sorted(source.glob("*.json")):
        dashboard = json.loads(definition.read_text(encoding="utf-8"))
        uid = str(dashboard.get("uid") or definition.stem)
        snapshots.append(render(dashboard, prometheus, span, out_dir / f"{uid}.png", uid))
    return snapshots


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--prometheus", required=True, metavar="URL", help="Prometheus' base URL, e.g. http://127.0.0.1:9090"
    )
    parser.add_argument(
        "--range", default="30m", metavar="DURATION", help="the time range drawn, ending now (default 30m)"
    )
    parser.add_argument(
        "--step", metavar="DURATION", help="between the points of time series (default: range / 240, >= 1s)"
    )
    parser.add_argument(
        "--scrape-interval",
        default="15s",
        metavar="DURATION",
        help="Prometheus' scrape interval, which sizes $__rate_interval (default 15s)",
    )
    parser.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="where the PNGs go (<uid>.png)"
    )
    parser.add_argument(
        "--source",
        type=Path,
        default=GENERATED,
        metavar="DIR",
        help="the dashboards' JSON (default: the committed dashboards/generated)",
    )


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """The `snapshot` sub-command: exit 0 with a line per PNG; 1 when Prometheus is unreachable."""
    try:
        seconds = parse_duration(args.range)
        step = parse_duration(args.step) if args.step else default_step(seconds)
        scrape = parse_duration(args.scrape_interval)
        prometheus = PrometheusHttp(args.prometheus)
    except ValueError as exc:
        parser.error(str(exc))
    span = TimeRange(end=time.time(), seconds=seconds, step_seconds=step, scrape_seconds=scrape)
    try:
        snapshots = snapshot_all(prometheus, args.out, span, args.source)
    except PrometheusUnreachableError as exc:
        print(f"smsc-analytics dashboards snapshot: Prometheus unreachable: {exc}", file=sys.stderr)
        return 1
    for snapshot in snapshots:
        quiet = snapshot.titles(NO_DATA)
        line = f"{snapshot.path}: {len(snapshot.panels)} panels"
        print(line + (f", no data: {', '.join(quiet)}" if quiet else ""))
        for panel in snapshot.panels:
            if panel.status == FAILED:
                print(f"{snapshot.path}: {panel.title}: query failed: {panel.detail}", file=sys.stderr)
    return 0
