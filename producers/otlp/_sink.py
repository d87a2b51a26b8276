"""Where the receiver's records go: Kafka (the real one), or memory (for users' tests).

Unlike the SDK's transport, the receiver does not buffer: a request is
answered 200 only after Kafka acknowledged every record of it (``acks=all``,
idempotent producer), so the exporter, which keeps the batch until then, is
the buffer. When Kafka cannot take the data the request is answered 503 (or
429 when the receiver's own in-flight budget is spent) and the exporter retries.

Errors::

    TracestreamError
     └── SinkError
          ├── SinkUnavailable   Kafka unreachable or too slow: 503, retry later
          └── SinkBusy          too many bytes already in flight: 429, retry later
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any, ClassVar, Protocol

from tracestream.schemas import Topics, TracestreamError

from ._convert import OutRecord

__all__ = ["InMemorySink", "KafkaSink", "RecordSink", "SinkBusy", "SinkError", "SinkUnavailable"]

logger = logging.getLogger("tracestream.producers.otlp")

#: Records from this size on are sent one by one (see ``KafkaSink._send_all``).
_SINGLE_RECORD_BYTES = 64 * 1024


class SinkError(TracestreamError):
    """The records could not be stored; the request may be retried."""

    retriable: ClassVar[bool] = True


class SinkUnavailable(SinkError):
    """Kafka did not acknowledge in time (down, no leader, too slow)."""


class SinkBusy(SinkError):
    """The receiver already has its budget of bytes waiting on Kafka."""


class RecordSink(Protocol):
    """Stores a request's records; called from the receiver's event loop."""

    async def produce(self, records: Sequence[OutRecord]) -> list[str | None]:
        """Store every record, returning once all are acknowledged.

        Returns:
            Per record, None when stored, or why it can never be stored (the
            receiver counts it as rejected rather than asking for a retry).

        Raises:
            SinkError: nothing may be assumed stored; answer with a retryable status.
        """
        ...


class InMemorySink:
    """Keeps the records in a list: a test double for applications' own tests."""

    def __init__(self) -> None:
        self.records: list[OutRecord] = []

    async def produce(self, records: Sequence[OutRecord]) -> list[str | None]:
        self.records.extend(records)
        return [None] * len(records)


def _permanent(exc: BaseException) -> bool:
    """A record Kafka refuses whatever the retry (too large for the broker)."""
    from aiokafka.errors import MessageSizeTooLargeError

    return isinstance(exc, MessageSizeTooLargeError)


class KafkaSink:
    """Produces records with aiokafka (``acks="all"``, idempotent), waiting for every ack.

    :meth:`start` returns at once; a background task connects and reconnects
    with backoff, and until it has a producer :meth:`produce` raises
    :class:`SinkUnavailable`, so the receiver starts (and answers 503) while
    Kafka is down.

    Args:
        bootstrap_servers: ``host:port[,host:port...]``.
        topics: the deployment's topic names (events and DLQ are used).
        produce_timeout_s: how long one request may wait for its acks.
        max_inflight_bytes: bytes waiting on Kafka across requests before 429.
        max_record_bytes: the largest record produced (aiokafka's request size follows).
        linger_ms: aiokafka's batching delay; 0 by default, as each request's records
            reach aiokafka as whole record batches (lingering only held them back).
        client_id: shown in the broker's logs and quotas.
    """

    def __init__(
        self,
        *,
        bootstrap_servers: str,
        topics: Topics,
        produce_timeout_s: float = 8.0,
        max_inflight_bytes: int = 256 * 1024 * 1024,
        max_record_bytes: int = 1024 * 1024,
        linger_ms: int = 0,
        client_id: str = "tracestream-otlp",
    ) -> None:
        if produce_timeout_s <= 0 or max_inflight_bytes < 1 or max_record_bytes < 1024:
            raise ValueError(
                "produce_timeout_s > 0, max_inflight_bytes >= 1, max_record_bytes >= 1024"
            )
        self._topics = topics
        self._timeout_s = produce_timeout_s
        self._max_inflight = max_inflight_bytes
        self._inflight = 0
        self._options: dict[str, Any] = {
            "bootstrap_servers": bootstrap_servers,
            "acks": "all",
            "enable_idempotence": True,
            "compression_type": "zstd",
            "linger_ms": linger_ms,
            "max_batch_size": 256 * 1024,
            # Room for one record of the largest size plus its batch overhead.
            "max_request_size": max_record_bytes + 64 * 1024,
            "request_timeout_ms": int(produce_timeout_s * 1000),
            "client_id": client_id,
        }
        self._producer: Any = None
        self._connector: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._last_warning = -float("inf")

    @property
    def connected(self) -> bool:
        """Whether a started producer is in place."""
        return self._producer is not None

    async def start(self) -> None:
        """Begin connecting in the background. Returns at once; never raises."""
        if self._connector is None:
            self._connector = asyncio.create_task(self._connect(), name="tracestream-otlp-kafka")

    async def wait_connected(self, timeout_s: float) -> bool:
        """Wait until the producer is started; False when ``timeout_s`` passed first."""
        deadline = time.monotonic() + timeout_s
        while self._producer is None:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    async def stop(self) -> None:
        """Stop connecting, flush what was produced and close the producer."""
        self._stopping.set()
        if self._connector is not None:
            self._connector.cancel()
            # asyncio.wait, not awaiting the task: on Python < 3.12 a wait_for inside
            # aiokafka (or ours) can swallow the cancellation, and the flag then ends
            # the loop at its next turn; this never hangs the shutdown either way.
            await asyncio.wait({self._connector}, timeout=10.0)
            self._connector = None
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                await asyncio.wait_for(producer.stop(), 10.0)
            except Exception:  # noqa: BLE001 - closing: nothing left to answer
                logger.warning("tracestream otlp: the Kafka producer did not stop cleanly")

    async def _connect(self) -> None:
        from aiokafka import AIOKafkaProducer  # deferred: the extra's import cost at start only

        backoff_s = 0.2
        while not self._stopping.is_set():
            producer = AIOKafkaProducer(**self._options)
            try:
                await producer.start()
            except BaseException as exc:
                # Closed on every way out (a cancelled start too): an unclosed producer
                # warns from its __del__ at garbage collection.
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(producer.stop(), 2.0)
                if not isinstance(exc, Exception):
                    raise
                self._warn(f"cannot reach Kafka at {self._options['bootstrap_servers']} ({exc})")
                await asyncio.sleep(backoff_s)
                backoff_s = min(backoff_s * 2, 5.0)
                continue
            if self._stopping.is_set():
                await asyncio.wait_for(producer.stop(), 5.0)
                return
            self._producer = producer
            logger.info("tracestream otlp: connected to Kafka")
            return

    def _warn(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last_warning >= 30.0:
            self._last_warning = now
            logger.warning("tracestream otlp: %s; answering 503 until it is back", message)

    async def produce(self, records: Sequence[OutRecord]) -> list[str | None]:
        """See :meth:`RecordSink.produce`. Waits at most about ``produce_timeout_s``."""
        producer = self._producer
        if producer is None:
            raise SinkUnavailable("Kafka is not reachable")
        size = sum(len(r.value) + len(r.key) for r in records)
        if self._inflight and self._inflight + size > self._max_inflight:
            raise SinkBusy(f"{self._inflight} bytes are already waiting on Kafka")
        self._inflight += size
        try:
            return await asyncio.wait_for(self._send_all(producer, records), self._timeout_s)
        except TimeoutError:
            raise SinkUnavailable(
                f"Kafka did not acknowledge within {self._timeout_s:g} s"
            ) from None
        finally:
            self._inflight -= size

    async def _send_all(self, producer: Any, records: Sequence[OutRecord]) -> list[str | None]:
        """Queue every record, then wait for every ack; per record, None or why it is refused.

        Records go to aiokafka as whole record batches, one per topic-partition
        (``create_batch``/``send_batch``): ``send`` costs a future, a partitioner
        call and an accumulator lookup per record, 40% of the receiver's CPU per
        span before (issue 12). Large records still go one by one, so that a record
        the broker refuses for its size is refused alone.
        """
        from aiokafka.partitioner import murmur2

        outcome: list[str | None] = [None] * len(records)
        groups: dict[tuple[str, int], list[int]] = {}
        single: list[int] = []
        counts: dict[str, int] = {}
        # Kafka's default partitioner, so a trace's events meet the SDK's on one
        # partition; murmur2 is pure Python, and a trace's spans share their key.
        placed: dict[tuple[str, bytes], int] = {}
        for i, record in enumerate(records):
            if len(record.value) >= _SINGLE_RECORD_BYTES:
                single.append(i)
                continue
            topic = self._topics.events_dlq if record.dlq else self._topics.events
            partition = placed.get((topic, record.key))
            if partition is None:
                count = counts.get(topic)
                if count is None:
                    count = counts[topic] = len(await producer.partitions_for(topic))
                partition = placed[(topic, record.key)] = (murmur2(record.key) & 0x7FFFFFFF) % count
            groups.setdefault((topic, partition), []).append(i)
        batches: list[tuple[list[int], asyncio.Future[Any]]] = []
        for (topic, partition), members in groups.items():
            builder = producer.create_batch()
            batch: list[int] = []
            for i in members:
                r = records[i]
                if (
                    builder.append(
                        timestamp=None, key=r.key, value=r.value, headers=list(r.headers)
                    )
                    is None
                ):
                    # Full: ship it and start the next (a first record always fits).
                    future = await producer.send_batch(builder, topic, partition=partition)
                    batches.append((batch, future))
                    builder, batch = producer.create_batch(), []
                    builder.append(
                        timestamp=None, key=r.key, value=r.value, headers=list(r.headers)
                    )
                batch.append(i)
            batches.append((batch, await producer.send_batch(builder, topic, partition=partition)))
        singles = [(i, await self._queue_one(producer, records[i])) for i in single]
        for batch, future in batches:
            try:
                await future
            except Exception as exc:  # noqa: BLE001 - sorted: permanent or retry
                if not _permanent(exc):
                    raise SinkUnavailable(f"Kafka did not acknowledge: {exc!r}") from None
                # Refused as a whole: each record again, alone, for its own verdict.
                for i in batch:
                    outcome[i] = await self._ack(await self._queue_one(producer, records[i]))
        for i, queued in singles:
            outcome[i] = await self._ack(queued)
        return outcome

    async def _queue_one(
        self, producer: Any, record: OutRecord
    ) -> asyncio.Future[Any] | BaseException:
        """Queue one record with ``send``: its ack future, or the permanent refusal."""
        topic = self._topics.events_dlq if record.dlq else self._topics.events
        try:
            future: asyncio.Future[Any] = await producer.send(
                topic, record.value, key=record.key, headers=list(record.headers)
            )
        except Exception as exc:  # noqa: BLE001 - sorted: permanent or retry
            if not _permanent(exc):
                raise SinkUnavailable(f"Kafka refused the send: {exc!r}") from None
            return exc
        return future

    @staticmethod
    async def _ack(queued: asyncio.Future[Any] | BaseException) -> str | None:
        """None once Kafka acknowledged, or why it refuses the record for good."""
        if isinstance(queued, BaseException):
            return f"Kafka refuses the record: {queued!r}"
        try:
            await queued
        except Exception as exc:  # noqa: BLE001 - sorted: permanent or retry
            if not _permanent(exc):
                raise SinkUnavailable(f"Kafka did not acknowledge: {exc!r}") from None
            return f"Kafka refuses the record: {exc!r}"
        return None
