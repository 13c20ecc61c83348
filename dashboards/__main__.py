"""`smsc-analytics dashboards`: `build` writes dashboards/generated from dashboards/src, `push` uploads it,
`snapshot` draws it to PNGs from a Prometheus."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from dashboards import push, snapshot
from dashboards.build import GENERATED, stale, write


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="smsc-analytics dashboards", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser(
        "build", help="write the dashboards' JSON and PANELS.md (the committed files)"
    )
    build.add_argument("--output", type=Path, default=GENERATED, help="directory (default: %(default)s)")
    build.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 when the files differ from a build"
    )
    uploading = commands.add_parser(
        "push",
        help="upload the generated dashboards to a running Grafana over its HTTP API",
        description="Upload dashboards/generated/*.json to Grafana (for a Grafana not provisioned from "
        "dashboards/provisioning): into a folder created when missing, replacing the dashboards by uid.",
    )
    push.add_arguments(uploading)
    drawing = commands.add_parser(
        "snapshot",
        help="draw every generated dashboard to a PNG from a Prometheus (no Grafana needed)",
        description="Draw each dashboard of dashboards/generated to DIR/<uid>.png with matplotlib: its grid, "
        "rows, titles, units, thresholds and legends, the variables at their defaults, queried from "
        "Prometheus over the last --range. Exit 1 when Prometheus is unreachable.",
    )
    snapshot.add_arguments(drawing)
    args = parser.parse_args(argv)
    if args.command == "push":
        return push.run(args, uploading)
    if args.command == "snapshot":
        return snapshot.run(args, drawing)
    if args.check:
        differing = stale(args.output)
        for name in differing:
            print(f"stale: {args.output / name}", file=sys.stderr)
        return 1 if differing else 0
    for path in write(args.output):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
