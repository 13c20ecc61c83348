"""Our partition choice is aiokafka's default partitioner's (murmur2, as the Java client), key for key."""

from __future__ import annotations

import pytest
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given
from hypothesis import strategies as st

from ingest.partitioner import choose_partition, murmur2

#: The Java client's `Utils.murmur2` (signed ints), from Kafka's UtilsTest: what every Kafka client
#: partitioning by key must agree on.
JAVA_VECTORS = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


@pytest.mark.parametrize(("data", "expected"), JAVA_VECTORS.items())
def test_murmur2_equals_the_java_client(data: bytes, expected: int) -> None:
    assert murmur2(data) == expected & 0xFFFFFFFF


@given(st.binary(max_size=200))
def test_murmur2_equals_aiokafka(data: bytes) -> None:
    assert murmur2(data) == aiokafka_murmur2(data)


@given(st.binary(max_size=64), st.integers(min_value=1, max_value=200))
def test_the_partition_of_a_key_is_aiokafkas(key: bytes, count: int) -> None:
    partitions = list(range(count))
    assert choose_partition(key, partitions, partitions) == DefaultPartitioner()(key, partitions, partitions)


def test_a_null_key_goes_to_an_available_partition() -> None:
    chosen = {choose_partition(None, [0, 1, 2, 3], [1, 3]) for _ in range(200)}
    assert chosen == {1, 3}


def test_a_null_key_without_available_partitions_goes_to_any() -> None:
    assert {choose_partition(None, [0, 1], []) for _ in range(200)} == {0, 1}
