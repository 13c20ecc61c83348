"""Which partition a record goes to: the choice of aiokafka's (and the Java client's) default partitioner.

Every status of one message must land in the partition of its key, whatever writes it: this module
gives exactly the partition `aiokafka.partitioner.DefaultPartitioner` gives (murmur2 of the key, or a
random available partition for a null key), tested against it on arbitrary keys. aiokafka's murmur2
takes the key apart byte by byte in Python (~3.5 µs for an `id:phone` key, a sizeable share of a
request); here the 32-bit words come out of one `struct` call.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Sequence
from functools import lru_cache
from typing import Final

_SEED: Final = 0x9747B28C
_M: Final = 0x5BD1E995
_MASK: Final = 0xFFFFFFFF


@lru_cache(maxsize=64)
def _words(count: int) -> struct.Struct:
    return struct.Struct(f"<{count}I")


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (`org.apache.kafka.common.utils.Utils.murmur2`) as an unsigned 32-bit int."""
    length = len(data)
    h = _SEED ^ length
    whole = length & ~3
    if whole:
        for k in _words(length >> 2).unpack_from(data):
            k = (k * _M) & _MASK
            k ^= k >> 24
            h = ((h * _M) & _MASK) ^ ((k * _M) & _MASK)
    rest = length - whole
    if rest:
        if rest == 3:
            h ^= data[whole + 2] << 16
        if rest >= 2:
            h ^= data[whole + 1] << 8
        h = ((h ^ data[whole]) * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    return h ^ (h >> 15)


def choose_partition(key: bytes | None, partitions: Sequence[int], available: Sequence[int]) -> int:
    """`partitions` in the order aiokafka lists them, `available` those with a leader."""
    if key is None:
        return random.choice(available or partitions)  # noqa: S311 - spreading load, not a secret
    return partitions[(murmur2(key) & 0x7FFFFFFF) % len(partitions)]
