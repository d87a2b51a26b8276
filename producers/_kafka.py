"""The Kafka transport: a bounded buffer in front of aiokafka on a background thread.

Threads::

    application threads ──offer()──▶ EventBuffer ──take()──▶ loop thread "tracestream-kafka"
       (never wait)                 (bounded: events, bytes)   (own asyncio loop, AIOKafkaProducer)

The loop thread is used for asyncio applications too: it keeps aiokafka's
CPU work and a slow broker away from the host's event loop, and gives one
code path whose non-blocking behaviour is tested. It is a daemon thread, so
it never holds up interpreter exit; the tracer's ``atexit`` hook flushes it.

Delivery: ``acks="all"`` and the idempotent producer, so a retried batch is
written once; key = trace id, so every event of a trace lands on one
partition. If the broker is unreachable the thread keeps retrying with
backoff while the buffer fills; once full, new events are dropped and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from typing import Any

from tracestream.schemas import SCHEMA_VERSION

from ._buffer import DropCounter, EventBuffer
from ._transport import TransportStats

__all__ = ["HEADERS", "KafkaTransport"]

logger = logging.getLogger("tracestream.producers")

#: Headers on every record: the worker can route on them without parsing.
HEADERS: list[tuple[str, bytes]] = [
    ("content-type", b"application/json"),
    ("schema-version", str(SCHEMA_VERSION).encode()),
]

_COMPRESSIONS = ("gzip", "snappy", "lz4", "zstd")


class KafkaTransport:
    """Sends events to one Kafka topic without ever making the caller wait.

    Args:
        bootstrap_servers: ``host:port[,host:port...]``.
        topic: the events topic (see :class:`tracestream.schemas.Topics`).
        max_buffer_events: queue bound in events.
        max_buffer_bytes: queue bound in bytes (payload plus ~400 bytes per event).
        linger_ms: how long aiokafka waits to fill a batch.
        max_batch_bytes: aiokafka's per-partition batch size.
        compression: ``"gzip"``, ``"snappy"``, ``"lz4"``, ``"zstd"`` or None.
            (lz4, snappy and zstd need ``cramjam``, a dependency of tracestream.)
        request_timeout_ms: how long a request may wait for the broker.
        client_id: shown in the broker's logs and quotas.
        warn_interval_s: at most one drop warning per this many seconds.
        producer_options: extra keyword arguments for ``AIOKafkaProducer``.

    Raises:
        ValueError: an argument is out of range (at construction only; after
            that no method raises).
    """

    def __init__(
        self,
        *,
        bootstrap_servers: str,
        topic: str,
        max_buffer_events: int = 100_000,
        max_buffer_bytes: int = 64 * 1024 * 1024,
        linger_ms: int = 5,
        max_batch_bytes: int = 256 * 1024,
        compression: str | None = "lz4",
        request_timeout_ms: int = 30_000,
        client_id: str = "tracestream-sdk",
        warn_interval_s: float = 10.0,
        producer_options: dict[str, Any] | None = None,
    ) -> None:
        if compression in ("none", ""):
            compression = None
        if compression is not None and compression not in _COMPRESSIONS:
            raise ValueError(f"compression must be one of {_COMPRESSIONS} or None")
        if linger_ms < 0 or max_batch_bytes < 1024 or request_timeout_ms < 1:
            raise ValueError("linger_ms >= 0, max_batch_bytes >= 1024, request_timeout_ms >= 1")
        self.topic = topic
        self._options: dict[str, Any] = {
            "bootstrap_servers": bootstrap_servers,
            "acks": "all",
            "enable_idempotence": True,
            "compression_type": compression,
            "linger_ms": linger_ms,
            "max_batch_size": max_batch_bytes,
            "max_request_size": max(1024 * 1024, max_batch_bytes),
            "request_timeout_ms": request_timeout_ms,
            "client_id": client_id,
            **(producer_options or {}),
        }
        self._linger_s = max(linger_ms, 1) / 1000
        self._drops = DropCounter(
            warn_interval_s=warn_interval_s, what="tracestream KafkaTransport"
        )
        self._buffer = EventBuffer(
            max_events=max_buffer_events, max_bytes=max_buffer_bytes, drops=self._drops
        )
        self._accepted = 0  # written by send() under _accept_lock
        self._accept_lock = threading.Lock()
        self._sent = 0  # written by the loop thread only
        self._failed = 0  # written by the loop thread only
        self._abandoned = 0  # written by shutdown() only, after the loop stopped
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._wake: asyncio.Event | None = None
        self._ready = threading.Event()
        self._closed = False
        self._last_connect_warning = -float("inf")
        self._thread = threading.Thread(target=self._run, name="tracestream-kafka", daemon=True)
        self._thread.start()
        self._ready.wait(5.0)

    # --- application side -------------------------------------------------------

    def send(self, key: bytes, value: bytes) -> bool:
        """Queue one event. O(1), never blocks on the network, never raises.

        Returns:
            False when the buffer was full (or the transport shut down): the
            event is dropped and counted.
        """
        if self._buffer.offer(key, value):
            with self._accept_lock:
                self._accepted += 1
            return True
        return False

    def flush(self, timeout_s: float) -> bool:
        """Block until every event accepted before the call is acknowledged or failed.

        Returns:
            False if that did not happen within ``timeout_s``.
        """
        target = self._accepted
        deadline = time.monotonic() + max(timeout_s, 0.0)
        self._poke()
        while self._settled() < target:
            if time.monotonic() >= deadline or not self._thread.is_alive():
                return False
            time.sleep(0.002)
        return True

    def shutdown(self, timeout_s: float) -> bool:
        """Flush within ``timeout_s``, stop the producer and the thread. Idempotent.

        Events still queued or in flight when the time is up are counted as
        dropped (reason ``shutdown``). Blocks at most about ``timeout_s``.
        """
        if self._closed:
            return True
        self._closed = True
        start = time.monotonic()
        ok = self.flush(timeout_s * 0.8)
        left = self._buffer.close()
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(stop.set)
        self._thread.join(max(0.1, timeout_s - (time.monotonic() - start)))
        abandoned = self._accepted - self._settled()
        if left or abandoned > 0:
            self._abandoned += max(abandoned, 0)
            self._drops.add("shutdown", max(abandoned, 0))
            ok = False
        return ok

    def stats(self) -> TransportStats:
        """Counters: sent (acknowledged), dropped (by reason), buffered (not yet settled)."""
        return TransportStats(
            sent=self._sent,
            dropped=self._drops.total,
            buffered=max(self._accepted - self._settled(), 0),
            buffered_bytes=self._buffer.bytes,
            dropped_by_reason=self._drops.by_reason(),
        )

    def _settled(self) -> int:
        return self._sent + self._failed + self._abandoned

    def _poke(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(wake.set)

    # --- loop thread ------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._main())
        except BaseException:
            logger.exception("tracestream KafkaTransport thread failed; events will be dropped")
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            self._ready.set()

    async def _main(self) -> None:
        from aiokafka import AIOKafkaProducer  # deferred: keeps `import tracestream` light

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._ready.set()
        producer: Any = None
        backoff_s = 0.1
        try:
            while not self._stop.is_set():
                if producer is None:
                    producer = AIOKafkaProducer(**self._options)
                    try:
                        await producer.start()
                    except Exception as exc:  # noqa: BLE001 - broker down: retry with backoff
                        await self._quiet_stop(producer, 1.0)
                        producer = None
                        self._warn_connect(exc)
                        await self._sleep(backoff_s)
                        backoff_s = min(backoff_s * 2, 5.0)
                        continue
                    backoff_s = 0.1
                if not await self._drain(producer):
                    await self._sleep(self._linger_s)
        finally:
            if producer is not None:
                await self._quiet_stop(producer, 2.0)

    async def _drain(self, producer: Any) -> bool:
        batch = self._buffer.take(1000)
        if not batch:
            return False
        send, topic, on_done = producer.send, self.topic, self._on_delivery
        for i, (key, value) in enumerate(batch):
            try:
                future = await send(topic, value, key=key, headers=HEADERS)
            except Exception:  # noqa: BLE001 - e.g. KafkaTimeoutError while the broker is down
                self._failed += 1
                self._drops.add("delivery_failed")
                if self._stop is not None and self._stop.is_set():
                    self._failed += len(batch) - i - 1
                    self._drops.add("shutdown", len(batch) - i - 1)
                    return True
                continue
            future.add_done_callback(on_done)
        return True

    def _on_delivery(self, future: asyncio.Future[Any]) -> None:
        if future.cancelled() or future.exception() is not None:
            self._failed += 1
            self._drops.add("delivery_failed")
        else:
            self._sent += 1

    async def _sleep(self, seconds: float) -> None:
        assert self._wake is not None and self._stop is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()

    async def _quiet_stop(self, producer: Any, timeout_s: float) -> None:
        try:
            await asyncio.wait_for(producer.stop(), timeout_s)
        except Exception:
            logger.debug("tracestream KafkaTransport: producer stop failed", exc_info=True)

    def _warn_connect(self, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._last_connect_warning >= 30.0:
            self._last_connect_warning = now
            logger.warning(
                "tracestream cannot reach Kafka at %s (%s); buffering, will retry",
                self._options["bootstrap_servers"],
                exc,
            )
