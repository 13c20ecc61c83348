"""Rendering the dashboards of `dashboards/src` to the committed JSON of `dashboards/generated`."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

from grafana_foundation_sdk.builders.dashboard import Dashboard
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from dashboards.panels_doc import panels_markdown
from dashboards.src import costs, delivery, destinations, pipeline_health, voice_menu

GENERATED: Final = Path(__file__).resolve().parent / "generated"
#: The panels of every dashboard as Markdown tables, written beside the JSON (Grafana reads only *.json).
PANELS_DOC: Final = "PANELS.md"

#: uid -> builder; the uid is the file name and never changes (links and bookmarks use it).
DASHBOARDS: Final[dict[str, Callable[[], Dashboard]]] = {
    delivery.UID: delivery.build,
    costs.UID: costs.build,
    destinations.UID: destinations.build,
    voice_menu.UID: voice_menu.build,
    pipeline_health.UID: pipeline_health.build,
}


def render(build: Callable[[], Dashboard]) -> str:
    """The dashboard as stable JSON: panels numbered in order, keys sorted, a final newline."""
    model = build().build()
    for number, panel in enumerate(model.panels or [], start=1):
        panel.id_val = number
    return JSONEncoder(sort_keys=True, indent=2, ensure_ascii=False).encode(model) + "\n"


def rendered() -> dict[str, str]:
    """File name -> JSON of every dashboard."""
    return {f"{uid}.json": render(build) for uid, build in DASHBOARDS.items()}


def documents() -> dict[str, str]:
    """File name -> text of everything a build writes: every dashboard's JSON, then PANELS.md."""
    files = rendered()
    files[PANELS_DOC] = panels_markdown(files)
    return files


def write(directory: Path = GENERATED) -> list[Path]:
    """Writes every dashboard and PANELS.md, removes JSON no dashboard owns; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    files = documents()
    for stale in directory.glob("*.json"):
        if stale.name not in files:
            stale.unlink()
    written = []
    for name, text in files.items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def stale(directory: Path = GENERATED) -> list[str]:
    """Names of the files in `directory` that differ from a fresh build (missing, changed or extra JSON)."""
    files = documents()
    paths = [*directory.glob("*.json"), directory / PANELS_DOC]
    present = {path.name: path.read_text(encoding="utf-8") for path in paths if path.is_file()}
    return sorted(name for name in files.keys() | present.keys() if files.get(name) != present.get(name))


def iter_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel of a dashboard's JSON, depth first, rows' nested panels included."""
    for panel in panels:
        yield panel
        yield from iter_panels(panel.get("panels") or [])


def panel_expressions(dashboard_json: str) -> list[tuple[str, str]]:
    """(panel title, PromQL) of every query of a generated dashboard, rows' panels included."""
    return [
        (str(panel.get("title")), str(target["expr"]))
        for panel in iter_panels(json.loads(dashboard_json)["panels"])
        for target in panel.get("targets") or []
    ]
