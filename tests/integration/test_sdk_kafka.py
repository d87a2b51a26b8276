"""The SDK against the real local broker: delivery byte for byte, and a broker that goes away.

The broker is shared with other test sessions and is never stopped here. To
take it away from the SDK mid-stream, the SDK's connections are routed
through a TCP proxy this test owns (aiokafka's ``create_conn`` is redirected
for the broker's address), and the proxy is cut.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from tracestream.producers import KafkaTransport, Tracer, TransportStats
from tracestream.schemas import EventParser, Topics

pytestmark = [pytest.mark.integration, pytest.mark.kafka]


@pytest.fixture(autouse=True)
def no_thread_leaks() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5.0
    while True:
        extra = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not extra or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not extra, f"threads left behind: {extra}"


class Tee:
    """A transport that remembers what it forwards: the bytes the SDK produced."""

    def __init__(self, inner: KafkaTransport) -> None:
        self.inner = inner
        self.records: list[tuple[bytes, bytes]] = []

    def send(self, key: bytes, value: bytes) -> bool:
        self.records.append((key, value))
        return self.inner.send(key, value)

    def flush(self, timeout_s: float) -> bool:
        return self.inner.flush(timeout_s)

    def shutdown(self, timeout_s: float) -> bool:
        return self.inner.shutdown(timeout_s)

    def stats(self) -> TransportStats:
        return self.inner.stats()


async def read_back(bootstrap: str, topic: str, count: int, timeout_s: float = 60.0) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    out: list[Any] = []
    try:
        deadline = time.monotonic() + timeout_s
        while len(out) < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                out.extend(records)
    finally:
        await consumer.stop()
    return out


async def test_spans_arrive_byte_identical_with_key_and_headers(
    kafka_bootstrap: str, kafka_topics: Topics
) -> None:
    tee = Tee(KafkaTransport(bootstrap_servers=kafka_bootstrap, topic=kafka_topics.events))
    tracer = Tracer(project="p", service="it", transport=tee, flush_at_exit=False)
    try:
        for t in range(20):
            with tracer.trace(f"trace{t}", user_id="u", input={"q": t}):
                for s in range(4):
                    with tracer.generation(
                        model="gpt-4o", input=[{"role": "user", "content": "hé"}]
                    ) as g:
                        g.record_output("ok")
                        g.record_usage(input_tokens=s, output_tokens=1)
                tracer.score(None, "good", True)
        assert await asyncio.to_thread(tracer.flush, 30.0)
        stats = tracer.stats()
        assert (stats.sent, stats.dropped, stats.buffered) == (120, 0, 0)
    finally:
        await asyncio.to_thread(tracer.shutdown, 10.0)

    received = await read_back(kafka_bootstrap, kafka_topics.events, 120)
    assert sorted((r.key, r.value) for r in received) == sorted(tee.records)
    parser = EventParser()
    by_trace: dict[bytes, list[bytes]] = {}
    partitions: dict[bytes, set[int]] = {}
    for record in received:
        assert dict(record.headers) == {"content-type": b"application/json", "schema-version": b"1"}
        event = parser.parse(record.value)
        assert record.key == event.trace_id.encode()
        by_trace.setdefault(record.key, []).append(record.value)
        partitions.setdefault(record.key, set()).add(record.partition)
    assert all(len(p) == 1 for p in partitions.values())  # key = trace id: one partition each
    sent_by_trace: dict[bytes, list[bytes]] = {}
    for key, value in tee.records:
        sent_by_trace.setdefault(key, []).append(value)
    assert by_trace == sent_by_trace  # and in order within each trace


class CuttableProxy:
    """A TCP proxy on its own thread and loop; :meth:`cut` drops every connection and
    refuses new ones, :meth:`restore` accepts again on the same port."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="test-proxy", daemon=True)
        self.thread.start()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.restore()

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def _cut(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        for writer in self.writers:
            writer.transport.abort()
        self.writers.clear()

    def restore(self) -> None:
        self._call(self._start())

    def cut(self) -> None:
        self._call(self._cut())

    def close(self) -> None:
        self.cut()

        async def drain() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self._call(drain())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


def emit(tracer: Tracer, n: int) -> float:
    """Emit ``n`` spans; return the slowest one in seconds. Any exception fails the test."""
    worst = 0.0
    for i in range(n):
        start = time.perf_counter()
        with tracer.span("work", input={"i": i}) as span:
            span.record_output("done")
        worst = max(worst, time.perf_counter() - start)
    return worst


def test_broker_cut_mid_stream_never_blocks_or_raises(
    kafka_bootstrap: str, kafka_topics: Topics, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aiokafka.client

    host, _, port = kafka_bootstrap.rpartition(":")
    proxy = CuttableProxy(host, int(port))
    real_create_conn = aiokafka.client.create_conn

    async def via_proxy(conn_host: str, conn_port: int, **kwargs: Any) -> Any:
        if conn_port == int(port):
            conn_host, conn_port = "127.0.0.1", proxy.port
        return await real_create_conn(conn_host, conn_port, **kwargs)

    monkeypatch.setattr(aiokafka.client, "create_conn", via_proxy)
    transport = KafkaTransport(
        bootstrap_servers=f"127.0.0.1:{proxy.port}",
        topic=kafka_topics.events,
        max_buffer_events=5_000,
        request_timeout_ms=3_000,
        producer_options={"retry_backoff_ms": 50},
    )
    tracer = Tracer(project="p", service="cut", transport=transport, flush_at_exit=False)
    try:
        assert emit(tracer, 2_000) < 0.5
        assert tracer.flush(30.0)
        assert tracer.stats().sent == 2_000

        proxy.cut()
        worst = emit(tracer, 20_000)  # broker unreachable: buffer fills, then drops
        stats = tracer.stats()
        assert worst < 0.5, f"a span took {worst:.3f}s with the broker gone"
        assert stats.sent + stats.dropped + stats.buffered == 22_000
        # held: our buffer (5,000) plus what aiokafka had batched when the link went
        assert stats.buffered <= 5_000 + 5_000
        assert stats.dropped_by_reason.get("buffer_full", 0) >= 20_000 - stats.buffered
        assert tracer.flush(0.2) is False  # cannot deliver now, and says so in time

        proxy.restore()
        emit(tracer, 100)
        deadline = time.monotonic() + 60
        while tracer.stats().sent < 2_100 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert tracer.stats().sent >= 2_100  # delivering again after the broker came back
    finally:
        start = time.monotonic()
        tracer.shutdown(5.0)
        assert time.monotonic() - start < 10.0
        proxy.close()


def test_dead_broker_full_buffer_drops_and_shutdown_is_bounded() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]  # nothing listens here once the socket is closed
    transport = KafkaTransport(
        bootstrap_servers=f"127.0.0.1:{dead_port}",
        topic="nowhere",
        max_buffer_events=1_000,
        max_buffer_bytes=10 * 1024 * 1024,
    )
    tracer = Tracer(project="p", service="dead", transport=transport, flush_at_exit=False)
    worst = emit(tracer, 10_000)
    stats = tracer.stats()
    assert worst < 0.5
    assert (stats.sent, stats.buffered, stats.dropped) == (0, 1_000, 9_000)
    start = time.monotonic()
    assert tracer.shutdown(1.0) is False
    assert time.monotonic() - start < 3.0
    assert tracer.stats().dropped == 10_000
    assert tracer.stats().dropped_by_reason == {"buffer_full": 9_000, "shutdown": 1_000}
