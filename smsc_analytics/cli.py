"""`smsc-analytics`: one command, a sub-command per stage; each stage's own `main(argv)` does the work."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Final

#: sub-command -> (module with `main(argv) -> int`, one-line help). Imported lazily: `--help` stays fast
#: and a stage's dependencies are loaded only when that stage runs.
COMMANDS: Final = {
    "broker": ("embedded_broker.__main__", "run the embedded Kafka-protocol broker (development)"),
    "ingest": ("ingest.__main__", "run the HTTP endpoint that stores every SMSC callback in Kafka"),
    "worker": (
        "streams.__main__",
        "run a stream worker: events, dead letters and exact aggregates on /metrics",
    ),
    "replay-dead": ("streams.replay_dead", "put dead-lettered callbacks back on the raw topic (after a fix)"),
    "simulate": ("simulator.__main__", "play the SMSC server: post realistic callbacks to an endpoint"),
    "up": ("smsc_analytics.up", "run the whole pipeline on this machine (--demo: with the simulator)"),
    "dashboards": (
        "dashboards.__main__",
        "build the Grafana dashboards JSON from dashboards/src, push it, or snapshot it to PNGs",
    ),
    "report": (
        "reports.__main__",
        "a canned pandas report over the Parquet archive (delivery, costs, errors ...)",
    ),
}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command not in COMMANDS:
        print(f"smsc-analytics: unknown command {command!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[command][0])
    entry: Callable[[Sequence[str]], int] = module.main
    return entry(rest)


def _usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"  {name.ljust(width)}  {text}" for name, (_, text) in COMMANDS.items()]
    return (
        "usage: smsc-analytics COMMAND [options]   (COMMAND --help for its options)\n\ncommands:\n"
        + "\n".join(lines)
    )


if __name__ == "__main__":
    sys.exit(main())
