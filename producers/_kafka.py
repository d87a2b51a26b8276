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
partition.

When the broker is unreachable (a failed metadata round to every known
broker, or a failed start), see :mod:`._kafka_outage`:

- events stay in the bounded buffer (none are handed to aiokafka, where they
  could only expire); once it is full, new events are dropped and counted;
- every attempt to reach the broker, aiokafka's own included, waits an
  exponential backoff (``reconnect_backoff_ms`` doubling up to
  ``reconnect_backoff_max_ms``, with jitter);
- the SDK logs one warning when the outage starts and one line when it ends,
  with the drops (rate limited); aiokafka's per-attempt errors are kept off a
  host's stderr (see :mod:`._library_logs`).

After a long outage aiokafka's producer can refuse every batch (a sequence
gap): the transport replaces it, and events refused unwritten go back to
the buffer to be sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
import time
from collections.abc import Awaitable
from typing import Any

from tracestream.schemas import SCHEMA_VERSION

from ._backoff import Backoff
from ._buffer import DropCounter, EventBuffer
from ._kafka_outage import OutageReporter, pace_metadata, producer_errors
from ._library_logs import hold_library_logs, release_library_logs
from ._transport import TransportStats

__all__ = ["HEADERS", "KafkaTransport"]

logger = logging.getLogger("tracestream.producers")

#: Headers on every record: the worker can route on them without parsing.
HEADERS: list[tuple[str, bytes]] = [
    ("content-type", b"application/json"),
    ("schema-version", str(SCHEMA_VERSION).encode()),
]

_COMPRESSIONS = ("gzip", "snappy", "lz4", "zstd")

#: The longest an idle loop thread sleeps between looks at the buffer.
_MAX_IDLE_S = 0.05


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
        reconnect_backoff_ms: the first pause after a failed attempt to reach
            the broker; it doubles per failure (with ±20 % jitter) ...
        reconnect_backoff_max_ms: ... up to this, and resets when the broker answers.
        outage_report_interval_s: at most one "cannot reach Kafka" warning per
            this many seconds (a flapping link is summarised in the next one).
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
        reconnect_backoff_ms: int = 100,
        reconnect_backoff_max_ms: int = 5_000,
        outage_report_interval_s: float = 60.0,
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
        # Validated here, so that a bad value raises at construction.
        self._backoff = Backoff(
            initial_s=reconnect_backoff_ms / 1000, max_s=reconnect_backoff_max_ms / 1000
        )
        # Replacing a wedged producer has its own schedule: reaching the broker
        # resets the first one, and only a delivery proves a replacement worked.
        self._replace_backoff = Backoff(
            initial_s=min(0.1, self._backoff.max_s), max_s=self._backoff.max_s
        )
        self._drops = DropCounter(
            warn_interval_s=warn_interval_s, what="tracestream KafkaTransport"
        )
        self._buffer = EventBuffer(
            max_events=max_buffer_events, max_bytes=max_buffer_bytes, drops=self._drops
        )
        self._outage = OutageReporter(  # loop thread only
            where=bootstrap_servers,
            drops=self._drops,
            buffer=self._buffer,
            report_interval_s=outage_report_interval_s,
        )
        self._accepted = 0  # written by send() under _accept_lock
        self._accept_lock = threading.Lock()
        self._sent = 0  # written by the loop thread only
        self._failed = 0  # written by the loop thread only
        self._abandoned = 0  # written by shutdown() only, after the loop stopped
        self._broken: BaseException | None = None  # loop thread only: replace the producer
        self._unwritten: tuple[type[BaseException], ...] = ()
        self._wedging: tuple[type[BaseException], ...] = ()
        self._record_errors: tuple[type[BaseException], ...] = ()
        self._paced = False  # loop thread only: aiokafka's metadata rounds wait our backoff
        self._generation = 0  # loop thread only: which producer a delivery callback is about
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._wake: asyncio.Event | None = None
        self._ready = threading.Event()
        self._closed = False
        hold_library_logs()
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
        pause_s = 0.001
        while self._settled() < target:
            now = time.monotonic()
            if now >= deadline or not self._thread.is_alive():
                return False
            # Quick when delivery is quick; a flush that waits out an outage
            # polls 20 times a second, not 500.
            time.sleep(min(pause_s, deadline - now))
            pause_s = min(pause_s * 2, 0.05)
        return True

    def shutdown(self, timeout_s: float) -> bool:
        """Flush within ``timeout_s``, stop the producer and the thread. Idempotent.

        Events still queued or in flight when the time is up are counted as
        dropped (reason ``shutdown``). Blocks at most about ``timeout_s``. The
        final totals are the tracer's to log (``Tracer.shutdown``), so the
        periodic drop warning is silenced from here on.
        """
        if self._closed:
            return True
        self._closed = True
        start = time.monotonic()
        ok = self.flush(timeout_s * 0.8)
        self._drops.muted = True
        left = self._buffer.close()
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(stop.set)
        self._thread.join(max(0.1, timeout_s - (time.monotonic() - start)))
        if not self._thread.is_alive():
            # A thread still running could still log through aiokafka.
            release_library_logs()
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
        # Our own loop: what its tasks leave behind is ours to report, not the host's.
        loop.set_exception_handler(_loop_error)
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

        self._unwritten, self._wedging, self._record_errors = producer_errors()
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._ready.set()
        producer: Any = None
        idle_s = self._linger_s
        try:
            while not self._stop.is_set():
                if producer is None:
                    producer = AIOKafkaProducer(**self._options)
                    self._generation += 1
                    self._paced = pace_metadata(
                        producer, self._metadata_round, self._backoff.next_s
                    )
                    try:
                        started = await self._unless_stopped(producer.start())
                    except Exception as exc:  # noqa: BLE001 - broker down: retry with backoff
                        await self._quiet_stop(producer, 1.0)
                        producer = None
                        self._outage.failed(str(exc) or repr(exc), time.monotonic())
                        await self._sleep(self._backoff.next_s())
                        continue
                    if not started:
                        break
                    self._answered()
                if self._broken is not None:
                    logger.info(
                        "tracestream KafkaTransport: replacing Kafka producer #%d after %r",
                        self._generation,
                        self._broken,
                    )
                    await self._quiet_stop(producer, 2.0)
                    # Cleared only now: the stopping producer fails what it held.
                    self._broken = None
                    producer = None
                    await self._sleep(self._replace_backoff.next_s())
                    continue
                if not self._outage.up:
                    await self._probe(producer)
                    continue
                if await self._drain(producer):
                    idle_s = self._linger_s
                else:
                    await self._sleep(idle_s)
                    # Polling an empty buffer every linger_ms cost 3.3% of a core
                    # doing nothing; an idle transport slows down to _MAX_IDLE_S
                    # (a flush wakes it at once; the next span waits at most that).
                    idle_s = min(idle_s * 2, max(_MAX_IDLE_S, self._linger_s))
        finally:
            if producer is not None:
                await self._quiet_stop(producer, 2.0)

    def _metadata_round(self, answered: bool) -> None:
        if answered:
            self._answered()
        else:
            self._outage.failed("no broker answered a metadata request", time.monotonic())

    async def _probe(self, producer: Any) -> None:
        """While the broker is unreachable: one metadata round (paced by the backoff)."""
        self._outage.poll(time.monotonic())
        try:
            await self._unless_stopped(producer.client.force_metadata_update())
        except Exception:  # noqa: BLE001 - the next round will tell
            await self._sleep(self._backoff.next_s())
            return
        if not self._paced:
            await self._sleep(self._backoff.next_s())

    async def _drain(self, producer: Any) -> bool:
        batch = self._buffer.take(1000)
        if not batch:
            return False
        send, topic, on_done = producer.send, self.topic, self._on_delivery
        for i, (key, value) in enumerate(batch):
            # The state only changes while a send waits (a full accumulator), so
            # a look every 64 events suffices and spares the common case ~0.15 us.
            if not i & 63 and (not self._outage.up or self._broken is not None):
                # Kept here rather than in aiokafka, where they could only expire.
                self._requeue(batch[i:])
                return True
            try:
                future = await send(topic, value, key=key, headers=HEADERS)
            except self._unwritten as exc:
                if isinstance(exc, self._wedging):
                    self._broken = exc
                self._requeue(batch[i:])
                return True
            except Exception as exc:  # noqa: BLE001 - counted, never raised
                self._failed += 1
                self._drops.add("delivery_failed")
                if isinstance(exc, self._record_errors):
                    continue
                # Not this record's fault: the producer itself is unusable (its
                # sender died, ...) and would fail every record the same way.
                self._broken = exc
                self._requeue(batch[i + 1 :])
                return True
            future.add_done_callback(functools.partial(on_done, self._generation, key, value))
        return True

    def _on_delivery(
        self, generation: int, key: bytes, value: bytes, future: asyncio.Future[Any]
    ) -> None:
        if future.cancelled():
            self._failed += 1
            self._drops.add("delivery_failed")
            return
        exc = future.exception()
        if exc is None:
            self._sent += 1
            if not self._outage.up:
                self._answered()
            self._replace_backoff.reset()
        elif isinstance(exc, self._unwritten):
            # A replaced producer fails what it held as it stops: no reason to
            # replace its successor.
            if isinstance(exc, self._wedging) and generation == self._generation:
                self._broken = exc
            self._requeue([(key, value)])
        else:
            self._failed += 1
            self._drops.add("delivery_failed")

    def _requeue(self, records: list[tuple[bytes, bytes]]) -> None:
        if not self._buffer.requeue(records):  # closed: shutdown counts them as abandoned
            logger.debug("tracestream KafkaTransport: %d events not requeued", len(records))

    async def _unless_stopped(self, work: Awaitable[Any]) -> bool:
        """Await ``work`` unless the transport stops first (then cancel it).

        Returns:
            True when ``work`` finished (its exception, if any, is raised).
        """
        assert self._stop is not None
        task = asyncio.ensure_future(work)
        stopped = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait((task, stopped), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
        if task.done():
            task.result()
            return True
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        return False

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

    def _answered(self) -> None:
        self._backoff.reset()
        self._outage.answered(time.monotonic(), keep_muted=self._closed)


def _loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Exception handler of the transport's own loop: aiokafka's stray task errors, at DEBUG."""
    logger.debug(
        "tracestream KafkaTransport loop: %s",
        context.get("message"),
        exc_info=context.get("exception"),
    )
