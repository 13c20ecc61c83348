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
    reports = "\n".join(f"  {name:<12} {report.summary}" for name, report in REPORTS.items())
    result = argparse.ArgumentParser(
        prog="smsc-analytics report",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="A canned report over the Parquet archive of every event (docs/reports.md).",
        epilog=(
            f"reports:\n{reports}\n\nexamples:\n"
            "  smsc-analytics report delivery --since 2026-11-01 --until 2026-12-01 --by day,sender\n"
            "  smsc-analytics report errors --since 2026-11-24 --until 2026-11-25 --plot errors.png\n"
            "  smsc-analytics report delivery --since 2026-11-24 --by country,carrier --type sms\n"
            "  smsc-analytics report destinations --since 2026-11-24T10:00Z --until 2026-11-24T11:00Z\n"
            "exit status: 0 done, 2 bad options, no archive or nothing in the range"
        ),
    )
    result.add_argument("name", choices=list(REPORTS), metavar="NAME", help="which report (see below)")
    result.add_argument("--since", help="from this UTC date or ISO time, inclusive (default: the beginning)")
    result.add_argument("--until", help="to this UTC date or ISO time, exclusive (default: the end)")
    result.add_argument(
        "--by",
        help="comma-separated grouping: account, day, type, sender, balance, template_kind, country, "
        "carrier (delivery, costs, voice-menu); account, day, type, sender (errors); account, day, to "
        "(incoming); default account (costs: account,balance,template_kind); destinations always groups "
        "by country, carrier",
    )
    result.add_argument(
        "--account",
        action="append",
        default=[],
        metavar="NAME[,NAME]",
        help="only these accounts (comma-separated or repeated; default all)",
    )
    result.add_argument(
        "--type",
        action="append",
        default=[],
        metavar="TYPE[,TYPE]",
        help="only these message types: sms, flash, viber, voice, hlr ... (not incoming; default all)",
    )
    result.add_argument(
        "--previous-since",
        help="errors, destinations: start of the period to compare with (default: the same length "
        "just before --since)",
    )
    result.add_argument(
        "--previous-until",
        help="errors, destinations: end (exclusive) of the period to compare with (default: --since, "
        "or --previous-since plus the length of the period)",
    )
    result.add_argument(
        "--min-messages",
        type=int,
        metavar="N",
        help="destinations: only destinations with at least N messages in the period; a change only "
        "where the previous period had N too (default 20)",
    )
    result.add_argument("--format", choices=FORMATS, default="table", help="output format (default table)")
    result.add_argument(
        "--top",
        type=int,
        metavar="N",
        help="errors: codes per group (default 10); destinations: rows (default 20); 0 = all",
    )
    result.add_argument("--plot", type=Path, metavar="FILE.png", help="also draw a chart into this PNG file")
    result.add_argument(
        "--root", help="archive root path or URL (default: $SMSC_ARCHIVE_ROOT or ./data/archive)"
    )
    return result


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    root = args.root or ArchiveSettings().root
    by = args.by.split(",") if args.by is not None else None
    if args.top is not None and args.top < 0:
        print("smsc-analytics report: --top must be >= 0", file=sys.stderr)
        return 2
    if args.plot is not None and args.plot.suffix.lower() != ".png":
        print(f"smsc-analytics report: --plot {args.plot}: must be a .png file", file=sys.stderr)
        return 2
    try:
        sections = run_report(
            args.name,
            root=root,
            since=args.since,
            until=args.until,
            by=by,
            top="default" if args.top is None else args.top or None,
            previous_since=args.previous_since,
            previous_until=args.previous_until,
            min_messages=args.min_messages,
            accounts=args.account,
            types=args.type,
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
