"""How fast are the reports on 10 million status events? `load_events` + each report beside a bare
`pyarrow.dataset` scan answering the same question (the limit), and the peak memory of each.

    .venv/bin/python -m benchmarks.reports_10m --keep /tmp/smsc-reports-10m   # 10M events, ~5 min
    # --events N, --repeat N, --reports costs,voice-menu (load_events only with all), --build-only;
    # without --keep a temp archive, deleted at the end

It writes a synthetic archive with pyarrow directly (vectorised: ~5M messages of two statuses each,
spread over 10 days, the archive's schema; plus 1 % incoming SMS and call confirmations) under a temp
directory in /tmp (~0.2 GB for 10M, ~15 s), deleted at the end unless --keep; a --keep directory that
already holds the archive of the same --events and --seed (its `archive.json`) is reused, not rewritten.
Each measurement runs in a fresh
process (spawn) so its peak RSS (`ru_maxrss`) is its own; median of --repeat runs of the wall seconds
and of the job's CPU seconds (user + sys, all threads). Goal (issue 7): every report ≤ 5 s and ≤ 2 GiB
on this 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from reports.catalog import REPORTS
from reports.messages import STATUS_COLUMNS
from reports.schema import COST, SCHEMA

DAYS = 10
START_NS = 1_763_942_400 * 10**9  # 2025-11-24T00:00Z
SENDERS = np.array(["SMSC.RU", "Bank-Info", "ShopOnline", "MedCenter", "TaxiBystro", "74951234567"])
TYPES = np.array([0, 0, 0, 0, 0, 0, 10, 10, 7, 1])  # sms-heavy, some viber, voice, flash
TYPE_NAMES = {0: "sms", 1: "flash", 7: "voice", 10: "viber"}
FINAL = np.array([1, 1, 1, 1, 1, 1, 1, 1, 20, 3])  # 80 % delivered, 10 % failed, 10 % expired
STATUS_NAMES = {0: "passed_to_operator", 1: "delivered", 3: "expired", 20: "undeliverable"}
OUTCOMES = {0: "pending", 1: "delivered", 3: "expired", 20: "failed"}
ERRS = np.array([1, 6, 11, 13, 248, 255])
#: Destinations (country, carrier, carrier source), one per message by its id, as the worker sets them.
DESTINATIONS = np.array(
    [
        ("RU", "MTS", "range"),
        ("RU", "MegaFon", "range"),
        ("RU", "Beeline", "hlr"),
        ("RU", "T2", "range"),
        ("RU", "unknown", "unknown"),
        ("KZ", "Kcell/Activ", "range"),
        ("BY", "A1", "hlr"),
        ("UZ", "Ucell", "range"),
    ]
)


def _text(values: np.ndarray, mapping: dict[int, str]) -> pa.Array:
    codes = np.searchsorted(np.array(sorted(mapping)), values)
    return pa.DictionaryArray.from_arrays(
        pa.array(codes, pa.int32()), pa.array([mapping[k] for k in sorted(mapping)])
    )


def _status_day(rng: np.random.Generator, messages: int, day: int, first_id: int) -> pa.Table:
    ids = np.arange(first_id, first_id + messages)
    phones = 79_000_000_000 + rng.integers(0, 999_999_999, messages)
    key = pc.binary_join_element_wise(
        pc.cast(pa.array(ids), pa.string()), pc.cast(pa.array(phones), pa.string()), ":"
    )
    sent = START_NS + day * 86_400 * 10**9 + np.sort(rng.integers(0, 86_400 * 10**9, messages))
    sent = sent // 10**9 * 10**9
    types = rng.choice(TYPES, messages)
    final = rng.choice(FINAL, messages)
    latency = rng.integers(1, 300, messages) * 10**9
    n = 2 * messages
    # Two rows per message: passed to operator (0), then its final status; arrival order = time order.
    index = np.repeat(np.arange(messages), 2)
    second = np.tile([False, True], messages)
    status = np.where(second, final[index], 0)
    occurred = sent[index] + np.where(second, latency[index], 0)
    order = np.argsort(occurred, kind="stable")
    index, second, status, occurred = index[order], second[order], status[order], occurred[order]
    mtype = types[index]
    voice = mtype == 7
    err = np.where(status == 20, rng.choice(ERRS, n), 0).astype(np.int16)
    cnt = np.where(voice, rng.integers(5, 120, n), rng.integers(1, 4, n)).astype(np.int32)
    price = rng.choice(np.array([150, 210, 340, 500]), messages)  # in 1/100 RUB
    cost = (price[index] * np.where(voice, 1, cnt)).astype(np.float64) / 100
    balance = np.where(ids[index] % 7 == 0, "second", "main")
    template = np.array(["none", "none", "service", "advertising", "transactional", "authorization"])[
        ids[index] % 6
    ]
    answered = voice & (status == 1)
    voice_outcome = pa.array(
        np.where(status == 1, "answered", np.where(status == 3, "expired", "busy")), mask=~(voice & second)
    )
    menu = np.array(["1", "11", "12", "2", "21", "22", "23", "3", "0"])[ids[index] % 9]
    destination = DESTINATIONS[ids[index] % len(DESTINATIONS)]
    columns: dict[str, Any] = {
        "v": pa.array(np.full(n, 2, np.int16)),
        "account": pa.DictionaryArray.from_arrays(
            pa.array((ids[index] % 3).astype(np.int32)), pa.array(["acme", "globex", "initech"])
        ),
        "key": key.take(pa.array(index)),
        "event_time": pa.array(occurred, pa.timestamp("ns", tz="UTC")),
        "received_at": pa.array(occurred + 300_000_000, pa.timestamp("ns", tz="UTC")),
        "occurred_at": pa.array(occurred, pa.timestamp("ns", tz="UTC")),
        "raw_partition": pa.array(np.zeros(n, np.int32)),
        "raw_offset": pa.array(np.arange(n, dtype=np.int64)),
        "id": pc.cast(pa.array(ids[index]), pa.string()),
        "phone": pc.cast(pa.array(phones[index]), pa.string()),
        "country": pa.array(destination[:, 0]).dictionary_encode(),
        "carrier": pa.array(destination[:, 1]).dictionary_encode(),
        "carrier_source": pa.array(destination[:, 2]).dictionary_encode(),
        "status": pa.array(status.astype(np.int16)),
        "status_name": _text(status, STATUS_NAMES),
        "outcome": _text(status, OUTCOMES),
        "ts": pa.array(occurred, pa.timestamp("ns", tz="UTC")),
        "time": pa.array(occurred, pa.timestamp("ns", tz="UTC")),
        "err": pa.array(err),
        "cnt": pa.array(cnt),
        "type": pa.array(mtype.astype(np.int16)),
        "type_name": _text(mtype, TYPE_NAMES),
        "cost": pa.array(cost).cast(COST),
        "balance": pa.array(balance).dictionary_encode(),
        "template_kind": pa.array(template).dictionary_encode(),
        "sender": pa.array(SENDERS[ids[index] % len(SENDERS)]).dictionary_encode(),
        "voice_outcome": voice_outcome,
        "callmenu": pa.array(menu, mask=~answered),
        "dtmf": pa.array(np.full(n, "12"), mask=~(answered & (ids[index] % 3 == 0))),
        "ringtime_seconds": pa.array(
            np.where(voice & second, rng.integers(2, 25, n), 0).astype(np.int32), mask=~(voice & second)
        ),
    }
    return _complete(columns, n)


def _complete(columns: dict[str, Any], n: int) -> pa.Table:
    arrays = []
    for field in SCHEMA:
        value = columns.get(field.name)
        if value is None:
            arrays.append(pa.nulls(n, field.type))
        else:
            if pa.types.is_dictionary(value.type):
                value = value.dictionary_decode()
            arrays.append(value.cast(field.type))
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


def _other_day(rng: np.random.Generator, count: int, day: int, kind: str) -> pa.Table:
    at = START_NS + day * 86_400 * 10**9 + np.sort(rng.integers(0, 86_400 * 10**9, count))
    columns: dict[str, Any] = {
        "v": pa.array(np.full(count, 2, np.int16)),
        "account": pa.array(np.array(["acme", "globex", "initech"])[rng.integers(0, 3, count)]),
        "key": pc.cast(pa.array(79_000_000_000 + rng.integers(0, 10**9, count)), pa.string()),
        "event_time": pa.array(at, pa.timestamp("ns", tz="UTC")),
        "received_at": pa.array(at, pa.timestamp("ns", tz="UTC")),
    }
    if kind == "incoming":
        reply = rng.random(count) < 0.4
        columns["to"] = pa.array(
            np.array(["79037011111", "79037022222", "74950001122"])[rng.integers(0, 3, count)]
        )
        columns["sms_id"] = pa.array(np.full(count, "100001"), mask=~reply)
        columns["is_reply"] = pa.array(reply)
    return _complete(columns, count)


def build(root: Path, events: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    per_day = events // 2 // DAYS
    for day in range(DAYS):
        date = np.datetime64(START_NS + day * 86_400 * 10**9, "ns").astype("datetime64[D]")
        for kind, table in (
            ("status", _status_day(rng, per_day, day, 100_001 + day * per_day)),
            ("incoming", _other_day(rng, per_day // 50, day, "incoming")),
            ("call_confirmation", _other_day(rng, per_day // 200, day, "call_confirmation")),
        ):
            directory = root / f"kind={kind}" / f"date={date}"
            directory.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, directory / f"smsc.events-0-{day}-{day}.parquet", compression="zstd")


# -- what is timed: each runs in a fresh process -----------------------------------------------------


def report_job(name: str, root: str) -> dict[str, Any]:
    from reports.catalog import run_report

    started = time.perf_counter()
    kwargs: dict[str, Any] = {"root": root}
    if name in ("errors", "destinations"):  # a period with a previous one to compare against
        kwargs.update(since="2025-11-29", until="2025-12-04")
    run_report(name, **kwargs)
    return {"seconds": time.perf_counter() - started}


def load_job(name: str, root: str) -> dict[str, Any]:
    from reports.load import load_events

    started = time.perf_counter()
    rows = len(load_events("status", columns=STATUS_COLUMNS, root=root))
    return {"seconds": time.perf_counter() - started, "rows": rows}


def _scan(root: str, kind: str, columns: list[str], where: ds.Expression | None = None) -> pa.Table:
    return ds.dataset(f"{root}/kind={kind}", format="parquet", partitioning="hive").to_table(
        columns=columns, filter=where
    )


def anchor_job(name: str, root: str) -> dict[str, Any]:
    """The same question with a bare pyarrow scan + Arrow hash aggregation (no lifecycle, no pandas)."""
    started = time.perf_counter()
    if name == "delivery":
        table = _scan(root, "status", ["account", "key", "outcome", "type_name", "occurred_at"])
        table.group_by(["account", "outcome"]).aggregate([("key", "count_distinct")])
    elif name == "costs":
        table = _scan(
            root,
            "status",
            ["account", "key", "cost", "balance", "template_kind", "status"],
            ds.field("status") == 0,
        )
        table.group_by(["account", "balance", "template_kind"]).aggregate([("cost", "sum"), ("key", "count")])
    elif name == "errors":
        table = _scan(root, "status", ["account", "err"], ds.field("err") != 0)
        table.group_by(["account", "err"]).aggregate([("err", "count")])
    elif name == "voice-menu":
        table = _scan(
            root,
            "status",
            ["account", "voice_outcome", "cnt", "ringtime_seconds", "callmenu"],
            ds.field("type") == 7,
        )
        table.group_by(["account", "voice_outcome"]).aggregate(
            [("cnt", "tdigest"), ("ringtime_seconds", "tdigest")]
        )
        table.group_by(["account", "callmenu"]).aggregate([("callmenu", "count")])
    elif name == "destinations":  # the period's and the previous one's outcomes per destination
        for since, until in (("2025-11-29", "2025-12-04"), ("2025-11-24", "2025-11-29")):
            where = (ds.field("date") >= since) & (ds.field("date") < until)
            table = _scan(root, "status", ["account", "key", "outcome", "country", "carrier", "cost"], where)
            table.group_by(["country", "carrier", "outcome"]).aggregate([("key", "count_distinct")])
    elif name == "load":  # the same columns as a DataFrame, pyarrow's own conversion
        _scan(root, "status", list(STATUS_COLUMNS)).to_pandas()
    else:
        table = _scan(root, "incoming", ["account", "to", "is_reply"])
        table.group_by(["account", "to"]).aggregate([("is_reply", "sum"), ("to", "count")])
    return {"seconds": time.perf_counter() - started}


def _child(job: Callable[[str, str], dict[str, Any]], name: str, root: str, queue: Any) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF)
    result = job(name, root)
    after = resource.getrusage(resource.RUSAGE_SELF)
    # CPU of the job alone (all threads; imports before it left out): user, and kernel time (on this VM
    # mostly zeroing fresh pages: see benchmarks/README.md, Reports).
    result["user_seconds"] = after.ru_utime - before.ru_utime
    result["sys_seconds"] = after.ru_stime - before.ru_stime
    result["peak_rss_bytes"] = after.ru_maxrss * 1024
    queue.put(result)


def measure(
    job: Callable[[str, str], dict[str, Any]], name: str, root: str, repeat: int = 1
) -> dict[str, Any]:
    """Median seconds (wall, user, sys) and largest peak RSS over `repeat` fresh processes (the machine is
    shared: a single run can be twice as slow when a neighbour is busy)."""
    context = multiprocessing.get_context("spawn")
    runs = []
    for _ in range(repeat):
        queue = context.Queue()
        process = context.Process(target=_child, args=(job, name, root, queue))
        process.start()
        runs.append(queue.get(timeout=600))
        process.join()
    result = dict(runs[0])
    for figure in ("seconds", "user_seconds", "sys_seconds"):
        result[figure] = float(np.median([run[figure] for run in runs]))
    result["peak_rss_bytes"] = max(run["peak_rss_bytes"] for run in runs)
    return result


def _cpu(result: dict[str, Any]) -> str:
    return f"{result['user_seconds']:.2f}+{result['sys_seconds']:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=10_000_000, help="status events (default 10M)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the median is shown")
    parser.add_argument(
        "--reports",
        default=",".join(REPORTS),
        help="comma-separated reports to time; load_events is timed only with all of them (the default)",
    )
    parser.add_argument("--build-only", action="store_true", help="write the archive (with --keep) and stop")
    parser.add_argument(
        "--keep", type=Path, help="build the archive here and keep it (default: a temp dir, deleted)"
    )
    args = parser.parse_args(argv)
    root = args.keep or Path(tempfile.mkdtemp(prefix="smsc-reports-", dir="/tmp"))
    print(f"machine: {multiprocessing.cpu_count()} CPUs, Python {platform.python_version()}, shared machine")
    try:
        started = time.perf_counter()
        marker = root / "archive.json"
        # `v`: the event version the archive is written as (2: with destinations; an older one is rebuilt)
        built = {"events": args.events, "seed": args.seed, "days": DAYS, "v": 2}
        if marker.exists() and json.loads(marker.read_text()) == built:
            how = "reused"  # --keep DIR of an earlier run with the same --events and --seed
        else:
            build(root, args.events, args.seed)
            marker.write_text(json.dumps(built))
            how = "written"
        size = sum(p.stat().st_size for p in root.rglob("*.parquet"))
        seconds = time.perf_counter() - started
        print(
            f"archive: {args.events:,} status events {how} in {seconds:.1f} s, "
            f"{size / 2**20:.0f} MiB at {root}"
        )
        if args.build_only:
            return 0
        reports = [name for name in args.reports.split(",") if name]
        if set(reports) == set(REPORTS):
            _load_figures(str(root), args.repeat)
        print(
            f"{'report':<12} {'seconds':>8} {'cpu u+s':>11} {'pyarrow':>8} {'cpu u+s':>11} {'ratio':>6} "
            f"{'peak GiB':>9} {'goal':>5}"
        )
        for name in reports:
            report = measure(report_job, name, str(root), args.repeat)
            anchor = measure(anchor_job, name, str(root), args.repeat)
            peak = report["peak_rss_bytes"] / 2**30
            ok = report["seconds"] <= 5 and peak <= 2
            print(
                f"{name:<12} {report['seconds']:>8.2f} {_cpu(report):>11} {anchor['seconds']:>8.2f} "
                f"{_cpu(anchor):>11} {report['seconds'] / anchor['seconds']:>6.1f} {peak:>9.2f} "
                f"{'met' if ok else 'MISS':>5}",
                flush=True,
            )
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    return 0


def _load_figures(root: str, repeat: int) -> None:
    loaded = measure(load_job, "status", root, repeat)
    bare = measure(anchor_job, "load", root, repeat)
    load_peak, bare_peak = loaded["peak_rss_bytes"] / 2**30, bare["peak_rss_bytes"] / 2**30
    print(
        f"load_events(status, report columns): {loaded['rows']:,} rows {loaded['seconds']:.2f} s "
        f"(cpu user+sys {_cpu(loaded)}), peak {load_peak:.2f} GiB; pyarrow scan + to_pandas "
        f"{bare['seconds']:.2f} s (cpu {_cpu(bare)}, ratio {loaded['seconds'] / bare['seconds']:.1f}), "
        f"peak {bare_peak:.2f} GiB"
    )


if __name__ == "__main__":
    sys.exit(main())
