"""Installed packages are the locked ones, the lock fits pyproject.toml's ranges, and no private imports."""

from __future__ import annotations

import ast
import importlib.util
import pkgutil
import re
import tomllib
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = canonicalize_name(PYPROJECT["project"]["name"])

# The project's own code: every top-level package but the tests (which may reach into the project's own
# private helpers, never a dependency's: that is for the linters and review).
CODE_PACKAGES = (
    "smsc",
    "ingest",
    "streams",
    "reports",
    "simulator",
    "smsc_analytics",
    "dashboards",
    "embedded_broker",
    "benchmarks",
)
# aiokafka's documented API (its API reference); every other module of it is an implementation detail.
AIOKAFKA_PUBLIC = frozenset(
    {"aiokafka", "aiokafka.abc", "aiokafka.admin", "aiokafka.errors", "aiokafka.helpers", "aiokafka.structs"}
)
# Data, not code: a cap would keep stale time zone rules (pyproject.toml says so beside it).
UNCAPPED = frozenset({canonicalize_name("tzdata")})
_CAPPING_OPERATORS = frozenset({"<", "<=", "==", "===", "~="})


def locked_pins() -> dict[NormalizedName, Version]:
    """requirements.lock as name -> version; anything but one plain `name==version` a line fails."""
    pins: dict[NormalizedName, Version] = {}
    for number, line in enumerate(LOCK.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        where = f"requirements.lock:{number}: {text!r}"
        assert not text.startswith("-"), f"{where}: options and editables do not belong in a constraints file"
        requirement = Requirement(text)
        specifiers = list(requirement.specifier)
        assert len(specifiers) == 1, f"{where} is not one exact pin"
        assert specifiers[0].operator == "==", f"{where} is not an exact pin"
        assert not requirement.extras, f"{where} has extras"
        assert not requirement.url, f"{where} is a URL"
        assert requirement.marker is None, f"{where} has a marker (the lock is for Python 3.11 on Linux)"
        name = canonicalize_name(requirement.name)
        assert name not in pins, f"{where}: {name} is pinned twice"
        pins[name] = Version(specifiers[0].version)
    return pins


def declared_requirements() -> dict[str, list[Requirement]]:
    """pyproject.toml's requirements by group, `runtime` and each extra; the project's own extras left out."""
    project = PYPROJECT["project"]
    groups = {"runtime": project["dependencies"], **project["optional-dependencies"]}
    return {
        group: [req for req in map(Requirement, requirements) if canonicalize_name(req.name) != PROJECT]
        for group, requirements in groups.items()
    }


def test_the_lock_pins_every_package_and_not_the_project() -> None:
    pins = locked_pins()
    assert PROJECT not in pins, "the project itself is installed from the work tree, never from the lock"
    # Every extra is locked: the lock is the constraints file of `make install` (runtime + dev + bench).
    assert {"runtime", "broker", "bench", "dev"} <= declared_requirements().keys()


def test_every_declared_range_admits_its_locked_version() -> None:
    pins = locked_pins()
    problems = []
    for group, requirements in declared_requirements().items():
        for requirement in requirements:
            name = canonicalize_name(requirement.name)
            if requirement.marker is not None and not requirement.marker.evaluate():
                continue
            if name not in pins:
                problems.append(f"{requirement} ({group}) is not in requirements.lock")
            elif not requirement.specifier.contains(pins[name], prereleases=True):
                problems.append(f"{requirement} ({group}) does not admit the locked {name}=={pins[name]}")
    assert not problems, "pyproject.toml and requirements.lock disagree; run `make lock`:\n" + "\n".join(
        problems
    )


def test_every_requirement_has_an_upper_bound() -> None:
    uncapped = [
        f"{requirement} ({group})"
        for group, requirements in declared_requirements().items()
        for requirement in requirements
        if canonicalize_name(requirement.name) not in UNCAPPED
        and not any(spec.operator in _CAPPING_OPERATORS for spec in requirement.specifier)
    ]
    assert not uncapped, "ranges without an upper bound (the next major, or minor for 0.x):\n" + "\n".join(
        uncapped
    )


def test_the_installed_packages_are_the_locked_versions() -> None:
    runtime = {canonicalize_name(req.name) for req in declared_requirements()["runtime"]}
    mismatched, missing = [], []
    for name, locked in sorted(locked_pins().items()):
        try:
            installed = Version(metadata.version(name))
        except metadata.PackageNotFoundError:
            if name in runtime:
                missing.append(name)
            continue
        if installed != locked:
            mismatched.append(f"{name}: installed {installed}, locked {locked}")
    assert not missing, f"runtime requirements not installed: {', '.join(missing)}; run `make install`"
    assert not mismatched, "this environment is not the tested one; run `make install`:\n" + "\n".join(
        mismatched
    )


def test_every_install_path_is_constrained_by_the_lock() -> None:
    """`make install`, `make lock`'s own uv and the image: a bare `pip install` would resolve to 'latest'."""
    installs = [
        (path, line.strip())
        for path in ("Makefile", "Dockerfile")
        for line in (ROOT / path).read_text(encoding="utf-8").splitlines()
        if re.search(r"\bpip\b.*\binstall\b", line, re.IGNORECASE) and not line.lstrip().startswith("#")
    ]
    assert [path for path, _ in installs].count("Dockerfile") >= 1
    assert [path for path, _ in installs].count("Makefile") >= 2
    unconstrained = [f"{path}: {line}" for path, line in installs if "-c requirements.lock" not in line]
    # The Makefile names the lock through a variable.
    unconstrained = [line for line in unconstrained if "-c $(LOCK)" not in line]
    assert not unconstrained, "installs that ignore requirements.lock:\n" + "\n".join(unconstrained)


# -- no private imports --------------------------------------------------------------------------------


def _aiokafka_modules() -> frozenset[str]:
    """aiokafka's top-level modules, from its installed files (nothing is imported)."""
    spec = importlib.util.find_spec("aiokafka")
    assert spec is not None
    assert spec.submodule_search_locations is not None
    modules = pkgutil.iter_modules(spec.submodule_search_locations)
    return frozenset(f"aiokafka.{module.name}" for module in modules)


AIOKAFKA_INTERNALS = _aiokafka_modules() - AIOKAFKA_PUBLIC


def _private(name: str) -> bool:
    """A private name: a leading underscore, not a dunder (`__future__`, `__version__` are public)."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _module_problem(module: str) -> str | None:
    if module.split(".")[0] in CODE_PACKAGES:
        return None  # the project's own modules
    if any(_private(part) for part in module.split(".")):
        return f"private module {module}"
    if module.split(".")[0] == "aiokafka" and module not in AIOKAFKA_PUBLIC:
        return f"aiokafka internals {module}"
    return None


def private_imports(source: str, filename: str = "<source>") -> Iterator[str]:
    """`line: what` for each import of a dependency's private module or name in `source`."""
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if (problem := _module_problem(alias.name)) is not None:
                    yield f"{node.lineno}: {problem}"
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
            if (problem := _module_problem(node.module)) is not None:
                yield f"{node.lineno}: {problem}"
                continue
            if node.module.split(".")[0] in CODE_PACKAGES:
                continue
            for alias in node.names:
                if _private(alias.name):
                    yield f"{node.lineno}: private name {alias.name} of {node.module}"
                elif f"{node.module}.{alias.name}" in AIOKAFKA_INTERNALS:
                    yield f"{node.lineno}: aiokafka internals {node.module}.{alias.name}"
        elif isinstance(node, ast.Call) and _dynamic_import(node.func) and node.args:
            target = node.args[0]
            if not (isinstance(target, ast.Constant) and isinstance(target.value, str)):
                continue
            if (problem := _module_problem(target.value)) is not None:
                yield f"{node.lineno}: {problem}"


def _dynamic_import(func: ast.expr) -> bool:
    """`__import__(...)`, `importlib.import_module(...)` or a bare `import_module(...)`."""
    if isinstance(func, ast.Name):
        return func.id in {"__import__", "import_module"}
    return isinstance(func, ast.Attribute) and func.attr == "import_module"


def code_files() -> list[Path]:
    return sorted(path for package in CODE_PACKAGES for path in (ROOT / package).rglob("*.py"))


def test_every_package_of_the_project_is_checked() -> None:
    packages = {
        path.name
        for path in ROOT.iterdir()
        if path.is_dir() and (path / "__init__.py").is_file() and path.name != "tests"
    }
    assert packages == set(CODE_PACKAGES)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from _codecs import escape_decode\n", ["1: private module _codecs"]),
        ("import _thread\n", ["1: private module _thread"]),
        ("import json\nfrom pydantic._internal import x\n", ["2: private module pydantic._internal"]),
        ("from faust import _private\n", ["1: private name _private of faust"]),
        ("from aiokafka.producer.sender import Sender\n", ["1: aiokafka internals aiokafka.producer.sender"]),
        ("import aiokafka.protocol.produce\n", ["1: aiokafka internals aiokafka.protocol.produce"]),
        ("from aiokafka import record\n", ["1: aiokafka internals aiokafka.record"]),
        ("from aiokafka.conn import x\n", ["1: aiokafka internals aiokafka.conn"]),
        ("from aiokafka.cluster import x\n", ["1: aiokafka internals aiokafka.cluster"]),
        ("from aiokafka.client import x\n", ["1: aiokafka internals aiokafka.client"]),
        ("import importlib\nimportlib.import_module('_codecs')\n", ["2: private module _codecs"]),
        ("__import__('aiokafka.record')\n", ["1: aiokafka internals aiokafka.record"]),
        # Public: the documented APIs, dunders, the project's own (private) helpers, relative imports.
        ("from __future__ import annotations\nfrom aiokafka import AIOKafkaProducer\n", []),
        ("from aiokafka.errors import KafkaError\nfrom aiokafka.admin import NewTopic\n", []),
        ("from confluent_kafka import Producer\nimport codecs\n", []),
        ("from ingest.keyscan import _decode\nfrom . import _local\nfrom ._x import y\n", []),
        ("from aiokafka import __version__\n", []),
    ],
)
def test_the_private_import_check_finds_what_it_should(source: str, expected: list[str]) -> None:
    assert list(private_imports(source)) == expected


def test_the_aiokafka_internals_are_known() -> None:
    """The list comes from the installed aiokafka: it must name the modules that must not be imported."""
    named_in_the_rules = {"producer", "protocol", "record", "conn", "cluster", "client"}
    assert {f"aiokafka.{module}" for module in named_in_the_rules} <= AIOKAFKA_INTERNALS
    # and the public list names modules the installed aiokafka has (a rename would go unnoticed otherwise).
    assert AIOKAFKA_PUBLIC - {"aiokafka"} <= _aiokafka_modules()


def test_no_module_of_the_project_imports_a_private_module() -> None:
    files = code_files()
    assert len(files) > len(CODE_PACKAGES)
    problems = [
        f"{path.relative_to(ROOT)}:{problem}"
        for path in files
        for problem in private_imports(path.read_text(encoding="utf-8"), str(path))
    ]
    public = ", ".join(sorted(AIOKAFKA_PUBLIC))
    assert not problems, f"private imports (aiokafka's API: {public}):\n" + "\n".join(problems)
