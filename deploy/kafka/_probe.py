"""Is a Kafka broker answering? One raw MetadataRequest, no client library.

Blocking and thread-safe; cheap enough to poll while a broker starts.
"""

from __future__ import annotations

import socket
import struct
import time

from ._errors import KafkaLocalError

__all__ = ["broker_ready", "first_server"]


def first_server(bootstrap: str) -> tuple[str, int]:
    """Host and port of the first server in a bootstrap list."""
    host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
    if not host or not port.isdigit():
        raise KafkaLocalError(f"bootstrap {bootstrap!r} is not host:port")
    return host, int(port)


def _metadata_brokers(host: str, port: int, timeout_s: float) -> int:
    """Send one MetadataRequest v4 (no topics) and return how many brokers it lists."""
    client_id = b"tracestream-ready"
    body = struct.pack(">hhih", 3, 4, 1, len(client_id)) + client_id + struct.pack(">ib", 0, 0)
    with socket.create_connection((host, port), timeout=timeout_s) as sock:
        sock.settimeout(timeout_s)
        sock.sendall(struct.pack(">i", len(body)) + body)
        size = struct.unpack(">i", _recv_exactly(sock, 4))[0]
        payload = _recv_exactly(sock, size)
    # correlation_id int32, throttle_time_ms int32, brokers array (int32 count)
    correlation_id, _, count = struct.unpack_from(">iii", payload, 0)
    if correlation_id != 1:
        raise ConnectionError("unexpected correlation id")
    return int(count)


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < n:
        chunk = sock.recv(n - len(chunks))
        if not chunk:
            raise ConnectionError("connection closed by broker")
        chunks += chunk
    return bytes(chunks)


def broker_ready(bootstrap: str, timeout_s: float) -> bool:
    """True when a Kafka broker at ``bootstrap`` answers a metadata request listing a broker.

    Polls until ``timeout_s`` has passed (0 means: try once). Blocks; never
    raises for network errors. Uses a raw socket, no client library, so it is
    cheap and safe to call from any thread (but not from a coroutine).
    """
    host, port = first_server(bootstrap)
    deadline = time.monotonic() + timeout_s
    while True:
        remaining = deadline - time.monotonic()
        try:
            if _metadata_brokers(host, port, max(1.0, min(remaining, 5.0))) > 0:
                return True
        except (OSError, struct.error):
            pass
        if time.monotonic() + 0.2 > deadline:
            return False
        time.sleep(0.2)
