"""Every PromQL expression of the dashboards and the rules, and the metric names each one uses."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

import yaml

from dashboards.build import panel_expressions, rendered

RULES: Final = Path(__file__).resolve().parents[3] / "dashboards" / "prometheus" / "rules.yml"

#: Grafana's variables as Prometheus would see them once Grafana has substituted them.
_GRAFANA_VARIABLES: Final = {"__rate_interval": "1m", "__range": "1h", "__interval": "1m"}
_VARIABLE: Final = re.compile(r"\$\{?(\w+)\}?")
#: Names of series: after removing strings, every identifier not followed by `(` and not a keyword,
#: label name (inside `{}` or after `by`/`on`/...), duration or number.
_STRING: Final = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACES: Final = re.compile(r"\{[^}]*\}")
_GROUPING: Final = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_RANGE: Final = re.compile(r"\[[^\]]*\]")
_IDENTIFIER: Final = re.compile(r"(?<![\w.])([a-zA-Z_:][\w:]*+)(?!\s*\()")
_KEYWORDS: Final = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool"}
)


def grafana_to_promql(expr: str) -> str:
    """What Prometheus receives: `$__rate_interval` a duration, `$account` (all selected) `.*`."""
    return _VARIABLE.sub(lambda match: _GRAFANA_VARIABLES.get(match.group(1), ".*"), expr)


def series_names(expr: str) -> set[str]:
    """The series names an expression selects (`offset 1d`, labels, functions and strings excluded)."""
    text = _STRING.sub('""', expr)
    text = _BRACES.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = re.sub(r"\boffset\s+\w+", " ", text)
    return {name for name in _IDENTIFIER.findall(text) if name not in _KEYWORDS}


def panel_queries() -> list[tuple[str, str]]:
    """(dashboard file / panel title, expression as Grafana stores it) of every panel query."""
    return [
        (f"{name} / {title}", expr)
        for name, text in rendered().items()
        for title, expr in panel_expressions(text)
    ]


def rules() -> list[dict[str, str]]:
    """Every rule of rules.yml (`record` or `alert`, `expr`, ...)."""
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def recorded_names() -> set[str]:
    return {rule["record"] for rule in rules() if "record" in rule}
