"""Report sections -> text (rich table in a terminal, plain otherwise), CSV, JSON, HTML, or a PNG chart."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Final

import pandas as pd

FORMATS: Final = ("table", "csv", "json", "html")


def render(sections: dict[str, pd.DataFrame], fmt: str, *, rich_terminal: bool = False) -> str:
    if fmt == "json":
        document = {
            name: json.loads(frame.to_json(orient="records", date_format="iso"))
            for name, frame in sections.items()
        }
        return json.dumps(document, ensure_ascii=False, indent=1)
    if fmt == "csv":
        parts = [f"# {name}\n{frame.to_csv(index=False)}" for name, frame in sections.items()]
        return "\n".join(parts) if len(sections) > 1 else next(iter(sections.values())).to_csv(index=False)
    if fmt == "html":
        body = "\n".join(
            f"<h2>{name}</h2>\n{frame.to_html(index=False, float_format=_number)}"
            for name, frame in sections.items()
        )
        return f'<!doctype html>\n<meta charset="utf-8">\n{body}\n'
    if rich_terminal:
        return _rich(sections)
    return "\n\n".join(
        f"{name}\n{frame.to_string(index=False, float_format=_number)}" for name, frame in sections.items()
    )


def _number(value: float) -> str:
    return f"{value:.4g}" if abs(value) < 1 else f"{value:,.2f}".rstrip("0").rstrip(".")


def _rich(sections: dict[str, pd.DataFrame]) -> str:
    from rich.console import Console
    from rich.table import Table

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=200)
    for name, frame in sections.items():
        table = Table(title=name, show_lines=False)
        for column in frame.columns:
            numeric = pd.api.types.is_numeric_dtype(frame[column])
            table.add_column(str(column), justify="right" if numeric else "left")
        for row in frame.itertuples(index=False):
            table.add_row(*(_cell(value) for value in row))
        console.print(table)
    return buffer.getvalue()


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "" if pd.isna(value) else _number(value)
    return "" if value is None or value is pd.NA else str(value)


def plot(frame: pd.DataFrame, columns: tuple[str, ...], title: str, path: Path) -> None:
    """A horizontal bar chart of `columns` per row (labelled by the text columns), written as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    shown = frame.head(30)
    names = shown[labels].astype(str).agg(" · ".join, axis=1) if labels else shown.index.astype(str)
    data = shown[list(columns)].astype("float64").set_axis(list(names))
    height = max(3.0, 0.35 * len(data) + 1.5)
    figure, axes = plt.subplots(figsize=(10, height))
    data.iloc[::-1].plot.barh(ax=axes)
    axes.set_title(title)
    axes.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
