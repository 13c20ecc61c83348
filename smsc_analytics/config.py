"""Building a deployable's settings once at start, with a clear message instead of a traceback."""

from __future__ import annotations

import sys
from typing import Any, NoReturn, TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings

S = TypeVar("S", bound=BaseSettings)


def settings_or_exit(settings_class: type[S], **overrides: Any) -> S:
    """Validate the environment (and command-line overrides); on error name each variable and exit 2."""
    try:
        return settings_class(**overrides)
    except ValidationError as exc:
        _exit_with(settings_class, exc)


def _exit_with(settings_class: type[BaseSettings], exc: ValidationError) -> NoReturn:
    prefix = str(settings_class.model_config.get("env_prefix", ""))
    lines = [f"invalid configuration ({settings_class.__name__}):"]
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"])
        lines.append(f"  {prefix}{field.upper()}: {error['msg']} (got {error.get('input')!r})")
    print("\n".join(lines), file=sys.stderr)
    raise SystemExit(2)
