"""Every panel expression is valid PromQL for the Prometheus we ship (Debian's 2.42): each becomes a
recording rule of a temporary rule file that `promtool check rules` must accept (that promtool has no
check of a bare expression)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.unit.dashboards.queries import grafana_to_promql, panel_queries

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool is missing: `make test` installs Debian's prometheus package"
    return path


def check_rules(expressions: list[str], directory: Path) -> subprocess.CompletedProcess[str]:
    rules = [{"record": f"panel:query:{index}", "expr": expr} for index, expr in enumerate(expressions)]
    path = directory / "panels.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}), encoding="utf-8")
    return subprocess.run(
        [promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60, check=False
    )


def test_every_panel_expression_parses(tmp_path: Path) -> None:
    expressions = [grafana_to_promql(expr) for _, expr in panel_queries()]
    result = check_rules(expressions, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(expressions)} rules found" in result.stdout


def test_a_broken_expression_is_caught(tmp_path: Path) -> None:
    result = check_rules(["sum by (type) (rate(smsc_errors_total[5m])"], tmp_path)
    assert result.returncode != 0
    assert "parse error" in result.stdout + result.stderr


def test_grafana_variables_become_promql() -> None:
    assert (
        grafana_to_promql('rate(x{account=~"$account"}[$__rate_interval]) offset ${__range}')
        == 'rate(x{account=~".*"}[1m]) offset 1h'
    )
