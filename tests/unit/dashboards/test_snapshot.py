"""`smsc-analytics dashboards snapshot`: every generated dashboard drawn to a PNG from canned answers.

The Prometheus here is a tiny HTTP server on loopback serving canned JSON in Prometheus' answer format.
It stands in for Prometheus' answers only, to check the layout and the drawing without running services:
a range query gets two series per `by (...)` label set, an instant query three; one metric (the DTMF
keys) answers an empty result so that its panel must say "no data"; one answers a PromQL error. The
real Prometheus, with real scraped data, is in tests/integration/dashboards/test_live_stack.py.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import matplotlib.image
import numpy as np
import pytest

from dashboards.__main__ import main
from dashboards.build import GENERATED, iter_panels
from dashboards.promql_http import PrometheusHttp
from dashboards.snapshot import (
    DRAWN,
    FAILED,
    NO_DATA,
    TimeRange,
    format_value,
    legend,
    parse_duration,
    snapshot_all,
    substitute,
    variable_defaults,
)
from embedded_broker.broker import free_port

#: The canned answer for a query naming this metric is an empty result.
EMPTY_METRIC: Final = "smsc_voice_dtmf_total"
#: The panel drawing it.
EMPTY_PANEL: Final = "DTMF keys pressed"


def _labels(expr: str) -> list[str]:
    if expr.startswith("histogram_quantile("):  # `by (le)` inside: the quantile has no labels
        return []
    grouping = re.search(r"\bby \(([^)]*)\)", expr)
    return [name.strip() for name in grouping.group(1).split(",")] if grouping else []


def _answer(path: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
    expr = params["query"]
    if "$" in expr:  # a variable Grafana would have substituted reached Prometheus
        return 400, {"status": "error", "errorType": "bad_data", "error": f"unsubstituted variable in {expr}"}
    if EMPTY_METRIC in expr:
        kind = "matrix" if path.endswith("query_range") else "vector"
        return 200, {"status": "success", "data": {"resultType": kind, "result": []}}
    labels = _labels(expr)
    if path.endswith("query_range"):
        start, end, step = (float(params[name]) for name in ("start", "end", "step"))
        count = int((end - start) / step) + 1
        matrix: list[dict[str, Any]] = [
            {
                "metric": {name: f"{name}-{index}" for name in labels},
                "values": [
                    [start + at * step, f"{(index + 1) * (1.5 + math.sin(at / 9)):.4f}"]
                    for at in range(count)
                ],
            }
            for index in range(2 if labels else 1)
        ]
        return 200, {"status": "success", "data": {"resultType": "matrix", "result": matrix}}
    at = float(params["time"])
    result: list[dict[str, Any]] = [
        {"metric": {name: f"{name}-{index}" for name in labels}, "value": [at, str(10.0 * (index + 1))]}
        for index in range(3 if labels else 1)
    ]
    return 200, {"status": "success", "data": {"resultType": "vector", "result": result}}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        params = {name: values[0] for name, values in parse_qs(parts.query).items()}
        status, document = _answer(parts.path, params)
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def canned_prometheus() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def _panel_titles(definition: Path) -> list[str]:
    dashboard = json.loads(definition.read_text(encoding="utf-8"))
    return [str(panel["title"]) for panel in iter_panels(dashboard["panels"]) if panel["type"] != "row"]


def _non_trivial(png: Path) -> None:
    assert png.stat().st_size > 50_000, png
    pixels = np.asarray(matplotlib.image.imread(str(png)))
    assert pixels.shape[1] >= 1600, pixels.shape
    assert float(pixels[..., :3].std()) > 0.02, f"{png} is (nearly) one colour"


def test_every_dashboard_is_drawn_panel_for_panel(canned_prometheus: str, tmp_path: Path) -> None:
    span = TimeRange(end=time.time(), seconds=1800, step_seconds=15)
    snapshots = snapshot_all(PrometheusHttp(canned_prometheus), tmp_path, span)

    definitions = sorted(GENERATED.glob("*.json"))
    assert len(definitions) >= 4
    assert [snapshot.path for snapshot in snapshots] == [
        tmp_path / f"{path.stem}.png" for path in definitions
    ]
    assert sorted(tmp_path.glob("*.png")) == sorted(snapshot.path for snapshot in snapshots)
    for snapshot, definition in zip(snapshots, definitions, strict=True):
        _non_trivial(snapshot.path)
        assert snapshot.titles() == _panel_titles(definition)
        quiet = snapshot.titles(NO_DATA)
        expected_quiet = [EMPTY_PANEL] if snapshot.uid == "smsc-voice-menu" else []
        assert quiet == expected_quiet, snapshot.uid
        assert snapshot.titles(FAILED) == [], [p for p in snapshot.panels if p.status == FAILED]
        assert set(snapshot.titles(DRAWN)) == set(snapshot.titles()) - set(quiet)


def test_a_refused_query_is_drawn_as_failed_and_the_rest_is_drawn(
    canned_prometheus: str, tmp_path: Path
) -> None:
    source = tmp_path / "source"
    source.mkdir()
    dashboard = json.loads((GENERATED / "smsc-voice-menu.json").read_text(encoding="utf-8"))
    broken = next(panel for panel in dashboard["panels"] if panel["type"] == "timeseries")
    broken["targets"][0]["expr"] = "sum(rate(smsc_voice_calls_total[$unknown_variable]))"
    (source / "broken.json").write_text(json.dumps(dashboard), encoding="utf-8")

    span = TimeRange(end=time.time(), seconds=600, step_seconds=5)
    [snapshot] = snapshot_all(PrometheusHttp(canned_prometheus), tmp_path / "out", span, source)
    assert snapshot.titles(FAILED) == [broken["title"]]
    [failed] = [panel for panel in snapshot.panels if panel.status == FAILED]
    assert "unsubstituted variable" in failed.detail
    assert len(snapshot.titles(DRAWN)) == len(snapshot.panels) - 2  # the failed one and the empty one
    _non_trivial(snapshot.path)


def test_the_command_writes_a_png_per_dashboard(
    canned_prometheus: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "pngs"
    args = [
        "snapshot",
        "--prometheus",
        canned_prometheus,
        "--range",
        "30m",
        "--step",
        "30s",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == len(list(GENERATED.glob("*.json")))
    assert sorted(line.split(":")[0] for line in printed) == sorted(str(path) for path in out.glob("*.png"))
    assert any(f"no data: {EMPTY_PANEL}" in line for line in printed)


def test_an_unreachable_prometheus_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    assert main(["snapshot", "--prometheus", url, "--out", str(tmp_path / "out")]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.splitlines()
    assert line.startswith(f"smsc-analytics dashboards snapshot: Prometheus unreachable: {url}")
    assert not (tmp_path / "out").exists()


def test_variables_take_their_defaults_and_builtins_are_substituted() -> None:
    dashboard = json.loads((GENERATED / "smsc-delivery.json").read_text(encoding="utf-8"))
    defaults = variable_defaults(dashboard)
    assert defaults == {"account": ".*", "type": ".*", "sender": ".*"}
    span = TimeRange(end=1_000_000.0, seconds=1800, step_seconds=10, scrape_seconds=15)
    variables = {**defaults, **span.builtins()}
    expr = (
        'sum(rate(x{account=~"$account"}[$__rate_interval])) + sum(increase(y[$__range])) + z[${__interval}]'
    )
    assert (
        substitute(expr, variables) == 'sum(rate(x{account=~".*"}[60s])) + sum(increase(y[1800s])) + z[10s]'
    )
    assert substitute("a[$__rate_interval]", TimeRange(0, 600, 30, 15).builtins()) == "a[60s]"
    assert substitute("a[$__rate_interval]", TimeRange(0, 86400, 360, 15).builtins()) == "a[375s]"
    chosen = {
        "templating": {"list": [{"name": "account", "current": {"value": ["a", "b"]}, "includeAll": True}]}
    }
    assert variable_defaults(chosen) == {"account": "a|b"}


def test_legends_fill_the_series_labels() -> None:
    labels = {"__name__": "up", "job": "smsc-ingest", "instance": "127.0.0.1:8080"}
    assert legend("{{job}} {{ instance }}", labels, "up") == "smsc-ingest 127.0.0.1:8080"
    assert legend(None, labels, "up") == 'up{job="smsc-ingest", instance="127.0.0.1:8080"}'
    assert legend("", {}, "sum(x)") == "sum(x)"


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (0.934, "percentunit", "93.4%"),
        (42.0, "percent", "42%"),
        (0.25, "s", "250 ms"),
        (90.0, "s", "1.5 min"),
        (1536.0, "bytes", "1.5 KiB"),
        (12.5, "currencyUSD", "$12.5"),
        (2500.0, "short", "2.5 K"),
        (3.0, "reqps", "3 req/s"),
        (0.5, "ops", "0.5 ops/s"),
        (7.0, "suffix: msg", "7 msg"),
        (1234.0, None, "1234"),
        (math.nan, "s", "NaN"),
    ],
)
def test_units_are_formatted_as_grafana_shows_them(value: float, unit: str | None, shown: str) -> None:
    assert format_value(value, unit) == shown


def test_durations() -> None:
    assert parse_duration("30m") == 1800
    assert parse_duration("1h30m") == 5400
    assert parse_duration("90") == 90
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("30 minutes")


def test_up_redraws_the_dashboards_into_its_run_directory(canned_prometheus: str, tmp_path: Path) -> None:
    """`smsc-analytics up`'s periodic snapshots (here every 0.2 s): the command as a subprocess, bounded."""
    from smsc_analytics.up import Snapshots

    snapshots = Snapshots(canned_prometheus, "5s", tmp_path, interval_seconds=0.2)
    expected = sorted(snapshots.directory / f"{path.stem}.png" for path in GENERATED.glob("*.json"))
    snapshots.start()
    try:
        deadline = time.monotonic() + 120
        while sorted(snapshots.directory.glob("*.png")) != expected and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        snapshots.stop()
    assert sorted(snapshots.directory.glob("*.png")) == expected
    log = snapshots.log_path.read_text(encoding="utf-8")
    assert f"--prometheus {canned_prometheus}" in log
    assert "--scrape-interval 5s" in log
    assert f"no data: {EMPTY_PANEL}" in log
    assert list(snapshots.directory.glob(".*.partial")) == []
