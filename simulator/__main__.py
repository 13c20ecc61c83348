"""`smsc-analytics simulate`: play the SMSC server against a callback endpoint, optionally write the truth."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from simulator.errors import ConfigError, EndpointUnreachableError
from simulator.poster import Poster, PostReport, PostStats, check_reachable
from simulator.scenario import Scenario, simulate
from simulator.settings import SimulatorSettings
from simulator.truth import Recount
from simulator.vocabulary import carriers
from smsc_analytics.config import settings_or_exit

PROG: Final = "smsc-analytics simulate"
EXIT_UNREACHABLE: Final = 3

DESCRIPTION: Final = """\
Play the SMSC server: post realistic delivery statuses, incoming SMS and call confirmations to a
callback endpoint, the way SMSC writes them (charset, fmt, the ! rule, md5/sha1/crc32 signatures) and
retries them (anything but 200 or 404 is repeated every --retry-interval seconds, --max-attempts in all).
The workload is deterministic for a --seed. With --truth, the exact aggregates the stream processors must
report for what the endpoint accepted (200) are written as JSON (layout: docs/simulator.md).

Every option can also be set in the environment as SMSC_SIMULATOR_<FIELD> (field names in
docs/simulator.md); options win."""

EPILOG: Final = """\
examples:
  smsc-analytics simulate --count 1000 --rate 0 --truth truth.json
  smsc-analytics simulate --duration 300 --rate 50 --secret s3cr3t --signature sha1 \\
      --duplicate-ratio 0.05 --malformed-ratio 0.01 --error-burst 60:30
  smsc-analytics simulate --charset windows-1251 --format form --query-keys none   # a plain account
  smsc-analytics simulate --rate 50 --degrade-carrier MegaFon --ported-share 0.05   # where delivery drops

exit status: 0 done (or stopped by Ctrl-C / SIGTERM), 2 invalid options, 3 endpoint unreachable."""


def _default(field: str) -> Any:
    return SimulatorSettings.model_fields[field].default


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=argparse.SUPPRESS,  # unset options leave the environment's value in force
    )
    target = parser.add_argument_group("where and how fast")
    target.add_argument(
        "--url",
        help=f"the handler URL without the account, no ?query; callbacks go to URL/ACCOUNT "
        f"(default {_default('url')})",
    )
    target.add_argument(
        "--account",
        help="account name: the last path segment and the truth's label (default: default, the account "
        "ingest knows without configuration)",
    )
    target.add_argument(
        "--rate",
        dest="rate_per_second",
        type=float,
        metavar="PER_SECOND",
        help=f"new callbacks per second (retries come on top); 0 = as fast as the concurrency allows "
        f"(default {_default('rate_per_second'):g})",
    )
    target.add_argument(
        "--duration",
        dest="duration_seconds",
        type=float,
        metavar="SECONDS",
        help="stop taking new callbacks after this long (default: no limit)",
    )
    target.add_argument(
        "--count",
        type=int,
        help="stop after this many new callbacks (copies made by faults included); without --count and "
        "--duration the run goes on until Ctrl-C",
    )
    target.add_argument(
        "--concurrency",
        type=int,
        help="requests in flight at most, never two of one message at once "
        f"(default {_default('concurrency')})",
    )
    target.add_argument(
        "--timeout",
        dest="timeout_seconds",
        type=float,
        metavar="SECONDS",
        help=f"a request unanswered this long counts as failed and is retried "
        f"(default {_default('timeout_seconds'):g})",
    )
    target.add_argument(
        "--progress-interval",
        dest="progress_interval_seconds",
        type=float,
        metavar="SECONDS",
        help=f"print a progress line this often on stderr; 0 = never "
        f"(default {_default('progress_interval_seconds'):g})",
    )

    retries = parser.add_argument_group("SMSC's retries")
    retries.add_argument(
        "--retry-interval",
        dest="retry_interval_seconds",
        type=float,
        metavar="SECONDS",
        help=f"wait between attempts of a callback not answered 200/404 "
        f"(default {_default('retry_interval_seconds'):g}, as SMSC)",
    )
    retries.add_argument(
        "--max-attempts",
        type=int,
        help=f"attempts per callback in all (default {_default('max_attempts')}, as SMSC)",
    )
    retries.add_argument(
        "--drain-timeout",
        dest="drain_timeout_seconds",
        type=float,
        metavar="SECONDS",
        help="after the last new callback, keep retrying at most this long (default: until every callback "
        "is answered 200/404 or has used its attempts)",
    )

    wire = parser.add_argument_group("the wire format (the handler URL being played)")
    wire.add_argument(
        "--charset",
        help="windows-1251 (SMSC's default), koi8-r, utf-8, or random: drawn per callback "
        f"(default {_default('charset')})",
    )
    wire.add_argument(
        "--format",
        dest="body_format",
        choices=["random", "form", "xml", "json"],
        help=f"form (default of SMSC), xml (fmt=2), json (fmt=3), or random per callback "
        f"(default {_default('body_format')})",
    )
    wire.add_argument(
        "--query-keys",
        metavar="LIST",
        help="parameters sent in the query string (the ! rule, e.g. id,phone), none, or random: "
        f"a pattern for about 1 callback in 7 (default {_default('query_keys')})",
    )
    wire.add_argument(
        "--secret",
        help="sign every callback with this secret (Latin letters, digits, - and _), as ?md5=SECRET in the "
        "handler URL would (default: unsigned)",
    )
    wire.add_argument(
        "--signature",
        choices=["md5", "sha1", "crc32"],
        help=f"the signature parameter used with --secret (default {_default('signature').value})",
    )

    workload = parser.add_argument_group("the workload")
    workload.add_argument("--seed", type=int, help=f"seed of every draw (default {_default('seed')})")
    workload.add_argument(
        "--mix",
        metavar="SPEC",
        help="weights per product, e.g. sms=50,viber=10,voice=10,hlr=5,flash=5,incoming=15,"
        "call_confirmation=5; products not named get 0 (default: sms 55, viber 12, incoming 11, "
        "voice 8, hlr 6, flash 4, call_confirmation 4)",
    )
    workload.add_argument(
        "--messages-per-second",
        type=float,
        metavar="N",
        help="pace of the workload in simulated time (default: --rate / 2.8, so simulated time follows "
        "the clock; 10 with --rate 0)",
    )
    workload.add_argument(
        "--degrade-carrier",
        metavar="NAME",
        help="most messages to numbers on this carrier's network fail or expire (about 30 %% delivered, "
        f"operator errors 220/245/248/255): one of {', '.join(carriers())} (the carrier label), or "
        "COUNTRY:NAME for one country's, e.g. RU:MTS (default: none)",
    )
    workload.add_argument(
        "--ported-share",
        type=float,
        metavar="SHARE",
        help="share of the recipients of SMS, flash, Viber and calls that are ported numbers (a range of one "
        "Russian operator, on another's network); each is looked up (HLR) before it is first messaged "
        "(default 0)",
    )
    workload.add_argument(
        "--ported-settle",
        dest="ported_settle_seconds",
        type=float,
        metavar="SECONDS",
        help="a ported number is messaged only this long (simulated seconds) after its look-up answer was "
        f"sent (default {_default('ported_settle_seconds'):g})",
    )
    workload.add_argument(
        "--start",
        type=datetime.fromisoformat,
        metavar="ISO_TIME",
        help="simulated time of the first message, with a zone, e.g. 2025-03-03T09:00:00+03:00 "
        "(default: now)",
    )

    faults = parser.add_argument_group("faults")
    faults.add_argument(
        "--error-burst",
        dest="error_bursts",
        action="append",
        metavar="START:LENGTH[:ERR]",
        help="messages created from START to START+LENGTH simulated seconds after the start fail with "
        "status 20 and ERR (default 255); repeatable",
    )
    faults.add_argument(
        "--error-burst-ratio",
        type=float,
        metavar="SHARE",
        help=f"share of messages that fail during a burst (default {_default('error_burst_ratio'):g})",
    )
    for name, meaning in (
        ("duplicate", "callbacks sent twice, byte for byte (SMSC retrying one the endpoint stored)"),
        ("malformed", "callbacks followed by a broken copy (undecodable body, bad field, missing phone)"),
        ("unsigned", "callbacks followed by a copy without signature (needs --secret)"),
        ("bad-signature", "callbacks followed by a copy signed with another secret (needs --secret)"),
        ("out-of-order", "messages two of whose statuses are sent in swapped order"),
        ("late", "finished messages one of whose pending statuses is sent after the final one"),
    ):
        faults.add_argument(
            f"--{name}-ratio",
            dest=f"{name.replace('-', '_')}_ratio",
            type=float,
            metavar="SHARE",
            help=f"share of {meaning} (default 0)",
        )

    parser.add_argument(
        "--truth",
        dest="truth_path",
        metavar="FILE",
        help="write the exact expected aggregates of the accepted callbacks to FILE (JSON)",
    )
    return parser


def main(argv: Sequence[str]) -> int:
    options = vars(build_parser().parse_args(list(argv)))
    settings = settings_or_exit(SimulatorSettings, **options)
    try:
        scenario = settings.scenario(now=datetime.now(UTC))
        policy = settings.policy()
    except ConfigError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_run(settings, scenario, Poster(settings.url, policy)))
    except EndpointUnreachableError as exc:
        print(
            f"{PROG}: {exc}\n  is the endpoint running? (smsc-analytics ingest, or smsc-analytics up)",
            file=sys.stderr,
        )
        return EXIT_UNREACHABLE


async def _run(settings: SimulatorSettings, scenario: Scenario, poster: Poster) -> int:
    await check_reachable(settings.url, timeout_seconds=min(settings.timeout_seconds, 5.0))
    recount = Recount() if settings.truth_path else None
    if recount is not None:
        poster.on_accepted = recount.add
    if settings.progress_interval_seconds > 0:
        poster.on_progress = _progress
        poster.progress_interval_seconds = settings.progress_interval_seconds
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(_banner(settings, scenario), file=sys.stderr, flush=True)
    try:
        report = await poster.run(simulate(scenario), stop=stop)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    print(_summary(report), flush=True)
    if report.outcomes.get("not_found"):
        print(
            f"{PROG}: 404 means the endpoint does not know account {settings.account!r} "
            "(for ingest: SMSC_ACCOUNT_SECRETS); SMSC drops such callbacks",
            file=sys.stderr,
        )
    if recount is not None and settings.truth_path is not None:
        truth = recount.result()
        truth.write(settings.truth_path, extra=_run_record(settings, scenario, report))
        print(
            f"truth: {settings.truth_path} ({truth.inputs.get('callbacks', 0)} accepted callbacks)",
            flush=True,
        )
    if report.attempts and not report.reached_endpoint:
        raise EndpointUnreachableError(settings.url, "no attempt got an HTTP answer")
    return 0


def _banner(settings: SimulatorSettings, scenario: Scenario) -> str:
    rate = f"{settings.rate_per_second:g}/s" if settings.rate_per_second else "unlimited"
    words = [f"rate={rate}", f"concurrency={settings.concurrency}", f"seed={scenario.seed}"]
    if settings.count is not None:
        words.append(f"count={settings.count}")
    if settings.duration_seconds is not None:
        words.append(f"duration={settings.duration_seconds:g}s")
    words.append(f"retry every {settings.retry_interval_seconds:g}s x{settings.max_attempts} (Ctrl-C stops)")
    return f"{PROG}: posting to {settings.url.rstrip('/')}/{settings.account} {' '.join(words)}"


def _progress(stats: PostStats) -> None:
    elapsed = stats.elapsed_seconds
    rate = stats.attempts / elapsed if elapsed > 0 else 0.0
    answers = " ".join(f"{code}={count}" for code, count in sorted(stats.answers.items()))
    print(
        f"[{elapsed:7.1f}s] posted={stats.posted} attempts={stats.attempts} ({rate:.0f}/s) "
        f"accepted={stats.outcomes['accepted']} retry_pending={stats.retry_pending} answers: {answers}",
        file=sys.stderr,
        flush=True,
    )


def _summary(report: PostReport) -> str:
    answers = "  ".join(f"{code}: {count}" for code, count in report.answers.items()) or "none"
    outcomes = ", ".join(f"{name} {count}" for name, count in sorted(report.outcomes.items())) or "none"
    ended = " (stopped)" if report.stopped else ""
    return (
        f"{report.posted} callbacks posted in {report.elapsed_seconds:.1f} s{ended}, "
        f"{report.attempts} attempts ({report.attempts_per_second:.0f}/s)\n"
        f"answers by code: {answers}\n"
        f"callbacks: {outcomes}"
    )


def _run_record(settings: SimulatorSettings, scenario: Scenario, report: PostReport) -> dict[str, Any]:
    """What produced the truth: kept in the file so that a run can be repeated and explained."""
    options = settings.model_dump(mode="json", exclude={"secret", "truth_path"})
    return {
        "seed": scenario.seed,
        "account": scenario.account,
        "start": scenario.start.isoformat(),
        "messages_per_second": scenario.messages_per_second,
        "options": options,
        "posted": report.posted,
        "attempts": report.attempts,
        "answers": report.answers,
        "outcomes": report.outcomes,
        "stopped": report.stopped,
    }


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
