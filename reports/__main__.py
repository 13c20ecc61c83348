"""`smsc-analytics report NAME`: a canned report over the archive as a table, CSV, JSON, HTML or chart."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from reports.catalog import REPORTS, run_report
from reports.errors import ReportsError
from reports.render import FORMATS, plot, render
from reports.settings import ArchiveSettings


def parser() -> argparse.ArgumentParser:
    reports = "\n".join(f"  {name:<11} {report.summary}" for name, report in REPORTS.items())
    result = argparse.ArgumentParser(
        prog="smsc-analytics report",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="A canned report over the Parquet archive of every event (docs/reports.md).",
        epilog=(
            f"reports:\n{reports}\n\nexamples:\n"
            "  smsc-analytics report delivery --since 2026-11-01 --until 2026-12-01 --by day,sender\n"
            "  smsc-analytics report errors --since 2026-11-24 --until 2026-11-25 --plot errors.png\n"
            "exit status: 0 done, 2 bad options, no archive or nothing in the range"
        ),
    )
    result.add_argument("name", choices=list(REPORTS), metavar="NAME", help="which report (see below)")
    result.add_argument("--since", help="from this UTC date or ISO time, inclusive (default: the beginning)")
    result.add_argument("--until", help="to this UTC date or ISO time, exclusive (default: the end)")
    result.add_argument(
        "--by",
        help="comma-separated grouping: account, day, type, sender, balance, template_kind (message "
        "reports), to (incoming); default account (costs: account,balance,template_kind)",
    )
    result.add_argument("--format", choices=FORMATS, default="table", help="output format (default table)")
    result.add_argument("--top", type=int, default=10, help="errors: codes per group (0 = all; default 10)")
    result.add_argument("--plot", type=Path, metavar="FILE.png", help="also draw a chart into this PNG file")
    result.add_argument(
        "--root", help="archive root path or URL (default: $SMSC_ARCHIVE_ROOT or ./data/archive)"
    )
    return result


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    root = args.root or ArchiveSettings().root
    by = args.by.split(",") if args.by else None
    if args.top < 0:
        print("smsc-analytics report: --top must be >= 0", file=sys.stderr)
        return 2
    if args.plot is not None and args.plot.suffix.lower() != ".png":
        print(f"smsc-analytics report: --plot {args.plot}: must be a .png file", file=sys.stderr)
        return 2
    try:
        sections = run_report(
            args.name, root=root, since=args.since, until=args.until, by=by, top=args.top or None
        )
    except ReportsError as exc:
        print(f"smsc-analytics report: {exc}", file=sys.stderr)
        return 2
    print(render(sections, args.format, rich_terminal=sys.stdout.isatty()))
    if args.plot is not None:
        section, columns = REPORTS[args.name].plot
        frame = sections.get(section)
        if frame is None or frame.empty:
            print(f"smsc-analytics report: nothing to plot in {section!r}", file=sys.stderr)
            return 2
        plot(frame, tuple(c for c in columns if c in frame.columns), f"{args.name}: {section}", args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
