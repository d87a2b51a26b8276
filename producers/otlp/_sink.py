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
from collections.abc import Awaitable, Sequence
from typing import Any, ClassVar, Protocol

from tracestream.producers import QueuedBatch, queue_record_batches
from tracestream.schemas import Topics, TracestreamError

from ._convert import OutRecord

__all__ = ["InMemorySink", "KafkaSink", "RecordSink", "SinkBusy", "SinkError", "SinkUnavailable"]

logger = logging.getLogger("tracestream.producers.otlp")

#: Records from this size on are sent one by one (see ``KafkaSink._send_all``): a
#: refusal for size is then the record's own, not its batch's.
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
        (:func:`~tracestream.producers.queue_record_batches`, the worker's path
        too). Large records go one by one, and a batch refused for good is sent
        again record by record, so that a record the broker refuses for its size
        is refused alone.
        """
        queued = await self._queue(producer, records, alone_from_bytes=_SINGLE_RECORD_BYTES)
        outcome: list[str | None] = [None] * len(records)
        try:
            for members, ack in queued:
                refusal = await _refusal(ack)
                if refusal is None:
                    continue
                if len(members) == 1:
                    outcome[members[0]] = refusal
                else:
                    # Refused as a whole: each record again, alone, for its own verdict.
                    verdicts = await self._send_alone(producer, [records[i] for i in members])
                    for i, verdict in zip(members, verdicts, strict=True):
                        outcome[i] = verdict
        except SinkUnavailable:
            _discard(queued)
            raise
        return outcome

    async def _send_alone(self, producer: Any, records: Sequence[OutRecord]) -> list[str | None]:
        """Send each record of a refused batch alone: per record, None or why it is refused."""
        queued = await self._queue(producer, records, alone_from_bytes=0)
        try:
            return [await _refusal(ack) for _, ack in queued]
        except SinkUnavailable:
            _discard(queued)
            raise

    async def _queue(
        self, producer: Any, records: Sequence[OutRecord], *, alone_from_bytes: int
    ) -> list[QueuedBatch]:
        """Hand the records to the producer, each to the events topic or the DLQ.

        Raises:
            SinkUnavailable: the producer could not take them (nothing waits for
                what it took already).
        """
        events, dlq = self._topics.events, self._topics.events_dlq
        queued: list[QueuedBatch] = []
        try:
            await queue_record_batches(
                producer,
                [(dlq if r.dlq else events, None, r.key, r.value, r.headers) for r in records],
                queued,
                alone_from_bytes=alone_from_bytes,
            )
        except Exception as exc:  # noqa: BLE001 - not queued: retry later
            _discard(queued)
            raise SinkUnavailable(f"Kafka refused the send: {exc!r}") from None
        return queued


async def _refusal(ack: Awaitable[object]) -> str | None:
    """None once Kafka acknowledged, or why it refuses the records for good.

    Raises:
        SinkUnavailable: a refusal that a retry may overcome.
    """
    try:
        await ack
    except Exception as exc:  # noqa: BLE001 - sorted: permanent or retry
        if not _permanent(exc):
            raise SinkUnavailable(f"Kafka did not acknowledge: {exc!r}") from None
        return f"Kafka refuses the record: {exc!r}"
    return None


def _discard(queued: Sequence[QueuedBatch]) -> None:
    """Retrieve the outcome of acks nobody will wait for (no "exception never retrieved")."""
    for _, ack in queued:
        if isinstance(ack, asyncio.Future):
            ack.add_done_callback(_retrieve)


def _retrieve(future: asyncio.Future[object]) -> None:
    if not future.cancelled():
        future.exception()
