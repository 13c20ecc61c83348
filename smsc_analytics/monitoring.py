"""Local Prometheus and Alertmanager for `smsc-analytics up`: found on the PATH, configured for loopback.

The committed `dashboards/prometheus/prometheus.yml` scrapes compose service names; here a copy with
the same jobs and the project's `rules.yml` points at the loopback ports `up` chose.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import dashboards

DASHBOARDS_DIR = Path(dashboards.__file__).resolve().parent
RULES = DASHBOARDS_DIR / "prometheus" / "rules.yml"
ALERTMANAGER_CONFIG = DASHBOARDS_DIR / "alertmanager" / "alertmanager.yml"

HOW_TO_INSTALL = (
    "Debian/Ubuntu: apt-get install prometheus prometheus-alertmanager (or `make alert-rules`); "
    "elsewhere: https://prometheus.io/download/"
)


@dataclass(frozen=True)
class Binaries:
    prometheus: str | None
    alertmanager: str | None


def find_binaries() -> Binaries:
    # Debian names Alertmanager's binary `prometheus-alertmanager`; upstream calls it `alertmanager`.
    return Binaries(
        prometheus=shutil.which("prometheus"),
        alertmanager=shutil.which("alertmanager") or shutil.which("prometheus-alertmanager"),
    )


def prometheus_config(
    *, ingest: str, worker: str, prometheus: str, alertmanager: str | None, rules: Path = RULES
) -> str:
    """The scrape config (YAML; written as JSON, which YAML reads) for targets given as host:port."""
    config: dict[str, object] = {
        "global": {
            "scrape_interval": "5s",
            "evaluation_interval": "15s",
            "external_labels": {"stack": "smsc-analytics-up"},
        },
        "rule_files": [str(rules)] if rules.is_file() else [],
        "scrape_configs": [
            {"job_name": "smsc-ingest", "static_configs": [{"targets": [ingest]}]},
            {"job_name": "smsc-streams", "static_configs": [{"targets": [worker]}]},
            {"job_name": "prometheus", "static_configs": [{"targets": [prometheus]}]},
        ],
    }
    if alertmanager is not None:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    return json.dumps(config, indent=2) + "\n"


def prometheus_argv(binary: str, *, config: Path, data_dir: Path, listen: str) -> list[str]:
    return [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={data_dir}",
        f"--web.listen-address={listen}",
    ]


def alertmanager_argv(
    binary: str, *, data_dir: Path, listen: str, config: Path = ALERTMANAGER_CONFIG
) -> list[str]:
    return [
        binary,
        f"--config.file={config}",
        f"--storage.path={data_dir}",
        f"--web.listen-address={listen}",
        "--cluster.listen-address=",  # a single instance: no gossip port
    ]
