"""What destinations cost a worker: the HLR memory's bytes per number and look-up time, and the range
destination's time beside libphonenumber's documented path.

    .venv/bin/python -m benchmarks.destinations_state                 # 1M numbers, ~1 min
    .venv/bin/python -m benchmarks.destinations_state --numbers 5000000

Memory: a fresh process (spawn) remembers `--numbers` HLR answers (distinct Russian mobile numbers, seven
carriers, one answer a millisecond) in an `HlrMemory` with its default bounds, and reports the growth per
million numbers twice, in separate processes because tracemalloc inflates the RSS: the Python allocations
(tracemalloc, current and peak) and the resident set (/proc/self/statm, and the peak `ru_maxrss`). Beside
them `HlrMemory.memory_bytes()`, the memory's own estimate. Goal: <= 50 MiB per million numbers.

Time, in this process: ns per `carrier_of` on that memory (numbers held, and numbers it does not hold:
the common case, a look-up through every generation); µs per `range_destination` on a mix of numbers
(Russia, Kazakhstan, Belarus, Germany, Italy, Argentina, any calling code), cold (memo cleared, each number
once) and from the memo, against the anchor: the documented path (`phonenumbers.parse("+" + phone)`,
`region_code_for_number`, `carrier.name_for_valid_number`, the same normalisation). Best of `--repeat`,
in CPU time. Beside them, how long the memory takes to remember `--numbers` answers (with its merges).
Ends with a line `RESULT {json}` for scripts.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

import phonenumbers
from phonenumbers import carrier as phone_carriers

from smsc.events import UNKNOWN
from streams.carriers import normalise_carrier
from streams.destinations import range_destination
from streams.hlr_memory import HlrMemory, phone_digest

MIB = 2**20
CARRIERS = ("MTS", "MegaFon", "Beeline", "T2", "Yota", "Motiv", "Tinkoff")
T0_NS = 1_795_523_405 * 10**9
MS_NS = 10**6


def hlr_number(i: int) -> str:
    return f"79{(i * 7919) % 10**9:09d}"  # distinct for i < 10**9 (7919 is prime to 10)


def fill(memory: HlrMemory, numbers: int) -> None:
    for i in range(numbers):
        memory.remember(phone_digest(hlr_number(i)), CARRIERS[i % len(CARRIERS)], T0_NS + i * MS_NS)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_traced(numbers: int) -> dict[str, float]:
    """MiB per million numbers by tracemalloc: held at the end, and the peak while filling."""
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    memory = HlrMemory(retention_ns=30 * 86_400 * 10**9)
    fill(memory, numbers)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    scale = 1_000_000 / numbers / MIB
    return {
        "traced": (current - before) * scale,
        "traced_peak": (peak - before) * scale,
        "estimate": memory.memory_bytes() * scale,
        "held": len(memory),
        "generations": len(memory.generations()) - 1,
    }


def memory_resident(numbers: int) -> dict[str, float]:
    """MiB per million numbers of resident set growth: at the end, and the process's peak."""
    before = _rss_bytes()
    memory = HlrMemory(retention_ns=30 * 86_400 * 10**9)
    longest = 0  # the longest single `remember`: a merge of the largest generations
    started = time.process_time_ns()
    for i in range(numbers):
        number, carrier = phone_digest(hlr_number(i)), CARRIERS[i % len(CARRIERS)]
        call = time.process_time_ns()
        memory.remember(number, carrier, T0_NS + i * MS_NS)
        longest = max(longest, time.process_time_ns() - call)
    spent = time.process_time_ns() - started
    after = _rss_bytes()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    scale = 1_000_000 / numbers / MIB
    return {
        "rss": (after - before) * scale,
        "rss_peak": (peak - before) * scale,
        "held": len(memory),
        "fill_us": spent / numbers / 1000,  # with phone_digest and the timing itself
        "longest_remember_ms": longest / 1e6,
    }


def in_fresh_process(job: Callable[[int], dict[str, float]], numbers: int) -> dict[str, float]:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(job, (numbers,))


def best_ns(run: Callable[[], object], count: int, repeat: int) -> float:
    """Best of `repeat` runs, in CPU ns (this process's) per item: on a shared machine wall time also
    counts the time other processes had the CPU."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time_ns()
        run()
        best = min(best, (time.process_time_ns() - started) / count)
    return best


def documented_destination(phone: str) -> tuple[str, str]:
    try:
        number = phonenumbers.parse("+" + phone)
    except phonenumbers.NumberParseException:
        return UNKNOWN, UNKNOWN
    region = phonenumbers.region_code_for_number(number)
    country = region if region and region not in ("ZZ", "001") else UNKNOWN
    return country, normalise_carrier(phone_carriers.name_for_valid_number(number, "en"))


def destination_mix(count: int, seed: int) -> list[str]:
    """Mostly Russian and CIS mobile numbers, some German, Italian, Argentinian and any calling code."""
    rng = random.Random(seed)
    # (range prefix, digits of a whole number)
    prefixes = (("7903", 11), ("7926", 11), ("7950", 11), ("7916", 11), ("7999", 11), ("7701", 11),
                ("7705", 11), ("37529", 12), ("37533", 12), ("49151", 13), ("49176", 13))  # fmt: skip
    codes = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
    numbers = []
    for i in range(count):
        if i % 10 < 8:
            prefix, digits = prefixes[rng.randrange(len(prefixes))]
            numbers.append(prefix + "".join(rng.choices("0123456789", k=digits - len(prefix))))
        elif i % 10 == 8:
            numbers.append(rng.choice(("390", "393", "549")) + "".join(rng.choices("0123456789", k=9)))
        else:
            numbers.append(str(rng.choice(codes)) + "".join(rng.choices("0123456789", k=rng.randint(6, 11))))
    return numbers


def destination_times(numbers: Sequence[str], repeat: int) -> dict[str, float]:
    memo_size = range_destination.cache_info().maxsize
    if memo_size is not None and memo_size < len(numbers):
        raise SystemExit(f"--destinations must be at most the memo's {memo_size} numbers")

    def cold() -> None:
        range_destination.cache_clear()
        for phone in numbers:
            range_destination(phone)

    def memo() -> None:
        for phone in numbers:
            range_destination(phone)

    def documented() -> None:
        for phone in numbers:
            documented_destination(phone)

    cold_us = best_ns(cold, len(numbers), repeat) / 1000
    memo_us = best_ns(memo, len(numbers), repeat) / 1000  # the memo holds every number after `cold`
    documented_us = best_ns(documented, len(numbers), repeat) / 1000
    mismatches = sum(range_destination(phone) != documented_destination(phone) for phone in numbers)
    return {"cold_us": cold_us, "memo_us": memo_us, "documented_us": documented_us, "mismatches": mismatches}


def lookup_times(numbers: int, repeat: int) -> dict[str, float]:
    memory = HlrMemory(retention_ns=30 * 86_400 * 10**9)
    fill(memory, numbers)
    sample = min(numbers, 100_000)
    held = [phone_digest(hlr_number(i)) for i in range(0, numbers, max(1, numbers // sample))]
    absent = [phone_digest(f"49{i:010d}") for i in range(len(held))]
    assert all(memory.carrier_of(digest) is not None for digest in held)
    assert all(memory.carrier_of(digest) is None for digest in absent)

    def look_up(digests: list[int]) -> Callable[[], None]:
        carrier_of = memory.carrier_of

        def run() -> None:
            for digest in digests:
                carrier_of(digest)

        return run

    return {
        "held_ns": best_ns(look_up(held), len(held), repeat),
        "absent_ns": best_ns(look_up(absent), len(absent), repeat),
        "digest_ns": best_ns(
            lambda: [phone_digest(hlr_number(i)) for i in range(len(held))], len(held), repeat
        ),
        "generations": len(memory.generations()) - 1,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--numbers", type=int, default=1_000_000, help="HLR answers remembered (default 1M)")
    parser.add_argument("--destinations", type=int, default=20_000, help="numbers timed (<= the memo size)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args(argv)

    print(f"HLR memory, {args.numbers:,} numbers, per million numbers (goal <= 50 MiB):", flush=True)
    traced = in_fresh_process(memory_traced, args.numbers)
    resident = in_fresh_process(memory_resident, args.numbers)
    print(
        f"  tracemalloc {traced['traced']:.1f} MiB held (peak while filling {traced['traced_peak']:.1f}); "
        f"RSS growth {resident['rss']:.1f} MiB (peak {resident['rss_peak']:.1f}); "
        f"memory_bytes() {traced['estimate']:.1f} MiB; {traced['generations']:.0f} generations",
        flush=True,
    )
    print(
        f"  remember: {resident['fill_us']:.1f} µs CPU an answer (with phone_digest), the longest one "
        f"{resident['longest_remember_ms']:.0f} ms (a merge)",
        flush=True,
    )
    lookups = lookup_times(args.numbers, args.repeat)
    print(
        f"  carrier_of: {lookups['held_ns']:.0f} ns a number held, {lookups['absent_ns']:.0f} ns a number "
        f"not held ({lookups['generations']:.0f} generations); phone_digest {lookups['digest_ns']:.0f} ns",
        flush=True,
    )
    rng = random.Random(args.seed)
    mixes = {
        "mixed": destination_mix(args.destinations, args.seed),
        "russian_mobile": ["79" + "".join(rng.choices("0123456789", k=9)) for _ in range(args.destinations)],
    }
    destinations: dict[str, float] = {}
    for mix, numbers in mixes.items():
        times = destination_times(numbers, args.repeat)
        anchor = times["documented_us"]
        print(
            f"range_destination, {len(numbers):,} {mix.replace('_', ' ')} numbers "
            f"(anchor: the documented path, {anchor:.1f} µs CPU a number):"
        )
        print(f"  cold {times['cold_us']:.2f} µs ({times['cold_us'] / anchor:.3f} of the anchor)")
        print(f"  memo {times['memo_us']:.2f} µs ({times['memo_us'] / anchor:.4f} of the anchor)")
        print(f"  answers differing from the anchor: {times['mismatches']:.0f}", flush=True)
        destinations.update({f"destination_{mix}_{key}": value for key, value in times.items()})
    result: dict[str, Any] = {
        "numbers": args.numbers,
        "python": sys.version.split()[0],
        **{f"hlr_{key}": value for key, value in {**traced, **resident, **lookups}.items()},
        **destinations,
    }
    print("RESULT " + json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
