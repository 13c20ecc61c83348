"""The repository is self-contained: every relative Markdown link resolves inside it, no file cites a path
outside it, and the code tables in docs/codes.md are the ones smsc/codes.py holds."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from smsc.codes import ERROR_CODES, MESSAGE_TYPES, STATUS_CODES

ROOT = Path(__file__).resolve().parents[2]

# [text](target) and [text]: target; images too. Anchors and queries are cut off the target.
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)|^\s*\[[^\]]+\]:\s*(\S+)", re.M)
_EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|#|//)", re.I)
# A path that leaves the repository, or the folder beside it that only the project's developers have.
_OUTSIDE = re.compile(r"\.\./shared\b|(?<![\w./-])shared/[\w.-]+\.md\b")


def tracked(*suffixes: str) -> list[Path]:
    """The files git tracks (or would track), so that a virtualenv or a build folder never counts."""
    listing = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.split("\n")
    return [ROOT / name for name in listing if name.endswith(suffixes) and (ROOT / name).is_file()]


def links(text: str) -> list[str]:
    return [match.group(1) or match.group(2) for match in _LINK.finditer(text)]


def test_the_link_finder_sees_links() -> None:
    text = 'see [a](docs/a.md#x), ![p](img/p.png "t"), [web](https://x.org), [top](#y)\n[ref]: ../out.md\n'
    assert links(text) == ["docs/a.md#x", "img/p.png", "https://x.org", "#y", "../out.md"]


@pytest.mark.parametrize("path", tracked(".md"), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve_inside_the_repository(path: Path) -> None:
    broken = []
    for target in links(path.read_text(encoding="utf-8")):
        if _EXTERNAL.match(target):
            continue
        resolved = (path.parent / target.split("#", 1)[0].split("?", 1)[0]).resolve()
        if not resolved.is_relative_to(ROOT) or not resolved.exists():
            broken.append(target)
    assert broken == [], f"{path.relative_to(ROOT)}: links that do not resolve inside the repository"


def test_no_file_cites_a_path_outside_the_repository() -> None:
    citing = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in tracked(".md", ".py", ".yml", ".yaml", ".toml", ".txt")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if _OUTSIDE.search(line) and path != Path(__file__).resolve()
    ]
    assert citing == []


def _table_rows(heading: str) -> set[tuple[str, ...]]:
    text = (ROOT / "docs" / "codes.md").read_text(encoding="utf-8")
    section = text.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    rows = set()
    for line in section.splitlines():
        cells = [cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0].lstrip("-").isdigit():
            rows.add(tuple(cells))
    return rows


def test_the_code_tables_in_the_docs_are_smsc_codes() -> None:
    assert _table_rows("Message status") == {
        (str(s.code), s.name, s.meaning, s.outcome.value) for s in STATUS_CODES.values()
    }
    assert _table_rows("Delivery errors") == {
        (str(e.code), e.description, e.category) for e in ERROR_CODES.values()
    }
    assert _table_rows("Message types") == {(str(code), name) for code, name in MESSAGE_TYPES.items()}
