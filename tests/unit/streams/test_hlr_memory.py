"""The HLR memory: a number's newest answer, for the retention, within the bound, whatever its layout."""

from __future__ import annotations

import hashlib
import random

import pytest

from streams.hlr_memory import DEFAULT_MAX_NUMBERS, HlrMemory, phone_digest

RETENTION = 1_000


def digest(i: int) -> int:
    return phone_digest(f"7903{i:07d}")


def test_phone_digest_is_blake2b_of_the_digits() -> None:
    expected = int.from_bytes(hashlib.blake2b(b"79031234567", digest_size=8).digest(), "big")
    assert phone_digest("79031234567") == expected
    assert phone_digest("+7 903 123-45-67") == expected
    assert 0 <= expected < 2**64
    assert phone_digest("79031234568") != expected
    assert f"{expected:016x}" == hashlib.blake2b(b"79031234567", digest_size=8).hexdigest()


def test_remembers_and_forgets_nothing_else() -> None:
    memory = HlrMemory(RETENTION)
    assert memory.max_numbers == DEFAULT_MAX_NUMBERS
    memory.remember(digest(1), "MTS", 10)
    memory.remember(digest(2), "Beeline", 11)
    assert memory.carrier_of(digest(1)) == "MTS"
    assert memory.carrier_of(digest(2)) == "Beeline"
    assert memory.carrier_of(digest(3)) is None
    assert len(memory) == 2


def test_a_newer_answer_overwrites_an_older_one_is_ignored() -> None:
    memory = HlrMemory(RETENTION)
    memory.remember(digest(1), "MTS", 10)
    memory.remember(digest(1), "T2", 20)
    assert memory.carrier_of(digest(1)) == "T2"
    memory.remember(digest(1), "MegaFon", 15)  # answered before the one held
    assert memory.carrier_of(digest(1)) == "T2"
    memory.remember(digest(1), "Beeline", 20)  # as new: the later one wins
    assert memory.carrier_of(digest(1)) == "Beeline"
    assert len(memory) == 1


def test_answers_expire_after_the_retention() -> None:
    memory = HlrMemory(RETENTION)
    memory.remember(digest(1), "MTS", 100)
    memory.remember(digest(2), "T2", 200)
    assert memory.expire(100 + RETENTION - 1) == 0
    assert memory.carrier_of(digest(1)) == "MTS"
    memory.expire(100 + RETENTION)
    assert memory.carrier_of(digest(1)) is None  # expired at once, though held with a newer one
    assert memory.carrier_of(digest(2)) == "T2"
    assert memory.expire(200 + RETENTION) == 2  # the newest generation all expired: freed
    assert memory.carrier_of(digest(2)) is None
    assert len(memory) == 0
    assert memory.expire(50) == 0  # the clock does not go back
    memory.remember(digest(3), "MTS", 150)  # answered a retention before the last expiry: too old
    assert memory.carrier_of(digest(3)) is None
    assert len(memory) == 0


def test_expiry_frees_whole_generations() -> None:
    memory = HlrMemory(RETENTION, generation_numbers=4)
    for i in range(10):
        memory.remember(digest(i), "MTS", i)
    assert memory.generations() == [8, 2]  # two frozen generations of 4, merged, and the newest
    memory.expire(6 + RETENTION)
    assert len(memory) == 10  # the frozen generation still holds answers 7
    assert [memory.carrier_of(digest(i)) for i in range(10)] == [None] * 7 + ["MTS"] * 3
    assert memory.expire(7 + RETENTION) == 8
    assert memory.generations() == [2]
    assert len(memory) == 2


def test_generations_merge_like_a_binary_counter() -> None:
    memory = HlrMemory(RETENTION, max_numbers=10_000, generation_numbers=4)
    seen = []
    for i in range(28):
        memory.remember(digest(i), "MTS", i)
        seen.append(memory.generations())
    assert seen[2] == [3]
    assert seen[3] == [4, 0]
    assert seen[7] == [8, 0]
    assert seen[11] == [8, 4, 0]
    assert seen[15] == [16, 0]
    assert seen[27] == [16, 8, 4, 0]
    assert len(memory) == 28
    assert all(memory.carrier_of(digest(i)) == "MTS" for i in range(28))


def test_a_generation_holds_at_most_an_eighth_of_the_bound() -> None:
    memory = HlrMemory(RETENTION, max_numbers=64, generation_numbers=4)
    for i in range(64):
        memory.remember(digest(i), "MTS", i)
    assert max(memory.generations()) <= 8
    assert memory.generations() == [8] * 8 + [0]


def test_numbers_in_old_generations_are_found() -> None:
    memory = HlrMemory(10**9, max_numbers=100_000, generation_numbers=16)
    carriers = ("MTS", "MegaFon", "Beeline", "T2")
    for i in range(5_000):
        memory.remember(digest(i), carriers[i % 4], i)
    assert len(memory.generations()) > 3
    assert all(memory.carrier_of(digest(i)) == carriers[i % 4] for i in range(5_000))
    assert all(memory.carrier_of(digest(i)) is None for i in range(5_000, 10_000))
    assert len(memory) == 5_000


def test_a_newer_answer_in_a_newer_generation_wins() -> None:
    memory = HlrMemory(RETENTION, max_numbers=10_000, generation_numbers=4)
    memory.remember(digest(0), "MTS", 1)
    for i in range(1, 4):
        memory.remember(digest(i), "MTS", 1)
    assert memory.generations() == [4, 0]
    memory.remember(digest(0), "T2", 2)  # ported
    assert memory.carrier_of(digest(0)) == "T2"
    assert len(memory) == 4
    memory.remember(digest(0), "MegaFon", 1)  # an older answer, found in no generation but the old one
    assert memory.carrier_of(digest(0)) == "T2"
    for i in range(4, 7):
        memory.remember(digest(i), "Beeline", 3)
    assert memory.generations() == [7, 0]  # merged: the overwritten copy is gone
    assert memory.carrier_of(digest(0)) == "T2"
    assert len(memory) == 7


def test_an_answer_dropped_with_its_generation_leaves_no_older_one_behind() -> None:
    memory = HlrMemory(RETENTION, max_numbers=10_000, generation_numbers=2)
    memory.remember(digest(0), "MTS", 0)
    memory.remember(digest(1), "MTS", 500)  # keeps the first generation from expiring
    memory.remember(digest(2), "MTS", 1)
    memory.remember(digest(3), "MTS", 1)
    assert memory.generations() == [4, 0]
    memory.remember(digest(0), "T2", 2)  # the old copy is now dead in the merged generation
    memory.remember(digest(4), "T2", 2)
    assert memory.generations() == [4, 2, 0]
    memory.expire(2 + RETENTION)  # frees the newer generation, not the older
    assert memory.generations() == [4, 0]
    assert memory.carrier_of(digest(0)) is None
    assert memory.carrier_of(digest(1)) == "MTS"
    assert len(memory) == 1 + 2  # digest 1, and 2 and 3 (expired, freed with their generation)


def test_expired_answers_are_freed_when_their_generation_is_merged() -> None:
    memory = HlrMemory(RETENTION, max_numbers=10_000, generation_numbers=2)
    memory.remember(digest(0), "MTS", 0)
    memory.remember(digest(1), "MTS", 600)
    memory.expire(RETENTION)
    assert memory.carrier_of(digest(0)) is None
    assert len(memory) == 2
    memory.remember(digest(2), "MTS", 700)
    memory.remember(digest(3), "MTS", 700)  # freezes and merges with the first generation
    assert memory.generations() == [3, 0]
    assert len(memory) == 3
    assert [memory.carrier_of(digest(i)) for i in range(4)] == [None, "MTS", "MTS", "MTS"]


def test_the_oldest_are_dropped_first_above_the_bound() -> None:
    memory = HlrMemory(RETENTION, max_numbers=16)
    assert memory.generation_numbers == 2
    for i in range(40):
        memory.remember(digest(i), "MTS", i)
        assert len(memory) <= 16
        held = [memory.carrier_of(digest(j)) is not None for j in range(i + 1)]
        assert held == [False] * (i + 1 - len(memory)) + [True] * len(memory)
    assert len(memory) >= 16 - 2


def test_a_bound_of_one() -> None:
    memory = HlrMemory(RETENTION, max_numbers=1)
    for i in range(5):
        memory.remember(digest(i), "MTS", i)
        assert len(memory) == 1
        assert memory.carrier_of(digest(i)) == "MTS"
    assert memory.carrier_of(digest(3)) is None


def test_against_a_plain_dict() -> None:
    """Random answers, re-answers (newer, older) and expiries: the answer is always the dict's."""
    rng = random.Random(15)
    for generation_numbers in (1, 2, 3, 8, 64):
        memory = HlrMemory(RETENTION, max_numbers=10**6, generation_numbers=generation_numbers)
        newest: dict[int, tuple[str, int]] = {}
        cutoff, now = -(2**63), 0
        for step in range(3_000):
            now += rng.randint(0, 3)
            number = digest(rng.randrange(400))
            answered = now - rng.randint(0, 60)
            carrier = rng.choice(("MTS", "MegaFon", "Beeline", "T2"))
            memory.remember(number, carrier, answered)
            held = newest.get(number)
            if answered > cutoff and (held is None or held[1] <= answered):
                newest[number] = (carrier, answered)
            if rng.random() < 0.05:
                memory.expire(now)
                cutoff = max(cutoff, now - RETENTION)
            if step % 97 == 0:
                for number, (carrier, answered) in newest.items():
                    assert memory.carrier_of(number) == (carrier if answered > cutoff else None)
                live = sum(answered > cutoff for _, answered in newest.values())
                assert live <= len(memory) <= len(newest)


def test_deterministic() -> None:
    def run() -> tuple[list[int], list[str | None]]:
        memory = HlrMemory(RETENTION, max_numbers=200, generation_numbers=8)
        rng = random.Random(1)
        for i in range(1_000):
            memory.remember(digest(rng.randrange(300)), f"c{i % 7}", i)
            if i % 50 == 0:
                memory.expire(i)
        return memory.generations(), [memory.carrier_of(digest(i)) for i in range(300)]

    assert run() == run()


def test_carrier_names_are_renumbered_when_their_ids_run_out() -> None:
    memory = HlrMemory(10**9, max_numbers=1_000)
    for i in range(70_000):  # a new name each answer: past the 65,535 ids
        memory.remember(digest(i), f"carrier {i}", i)
    assert all(memory.carrier_of(digest(i)) == f"carrier {i}" for i in range(70_000 - len(memory), 70_000))
    assert 1_000 - 125 <= len(memory) <= 1_000


def test_memory_bytes_grows_with_the_numbers() -> None:
    memory = HlrMemory(RETENTION)
    empty = memory.memory_bytes()
    for i in range(50_000):
        memory.remember(digest(i), "MTS", i)
    assert memory.memory_bytes() > empty + 50_000 * 18  # digest, carrier id and time of each


@pytest.mark.parametrize("value", [-1, 2**64, 2**70])
def test_a_digest_is_64_bits(value: int) -> None:
    with pytest.raises(ValueError, match="64-bit"):
        HlrMemory(RETENTION).remember(value, "MTS", 1)


@pytest.mark.parametrize(("retention", "max_numbers"), [(0, 10), (10, 0), (-1, 10)])
def test_bounds_are_positive(retention: int, max_numbers: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        HlrMemory(retention, max_numbers)
