"""Asking a socket whether it speaks the Kafka protocol: one ApiVersions (v0) round trip, stdlib only."""

from __future__ import annotations

import socket
import struct
from typing import Final

_API_VERSIONS: Final = 18
_CORRELATION_ID: Final = 0x5A5A
_CLIENT_ID: Final = b"smsc-analytics-probe"


def kafka_api_versions_ok(host: str, port: int, *, timeout: float = 1.0) -> bool:
    """True when the listener answers an ApiVersions request with error code 0."""
    request = struct.pack(">hhih", _API_VERSIONS, 0, _CORRELATION_ID, len(_CLIENT_ID)) + _CLIENT_ID
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.sendall(struct.pack(">i", len(request)) + request)
            size = struct.unpack(">i", _read_exactly(conn, 4))[0]
            if not 6 <= size <= 1 << 20:
                return False
            correlation_id, error_code = struct.unpack(">ih", _read_exactly(conn, 6))
    except (OSError, struct.error, ConnectionError):
        return False
    return bool(correlation_id == _CORRELATION_ID and error_code == 0)


def _read_exactly(conn: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = conn.recv(count - len(data))
        if not chunk:
            raise ConnectionError("connection closed mid-response")
        data += chunk
    return data
