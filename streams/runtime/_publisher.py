"""The one publish / retry / observe path of both worker runtimes.

The Faust adapter (``_faust.py``) and the plain aiokafka loop (``_kafka.py``)
differ in how they consume and commit; what they do with a batch's output is
the same and lives here once, so a guard added to it covers both:

1. :func:`output_messages` turns the pipeline's :class:`BatchOutput` into
   Kafka records (DLQ, scores, spans, traces, windows, anomalies);
2. :meth:`Publisher.publish` sends them, then the changelog records of the
   state the batch changed, each set resent whole with :class:`Backoff` until
   every record is acknowledged, counting each failure
   (``tracestream_publish_failures_total{error}``) but logging only changes:
   the first failure, a new kind of error, a reminder every ``reminder_s``,
   and the acknowledgement that ends it (an outage is a few lines, not one
   per retry);
3. only then the published records are observed in the metrics and the heap
   policy (:class:`~tracestream.streams.runtime._heap.HeapKeeper`) runs; the
   runtime commits the batch's offsets after :meth:`Publisher.publish` returns.

Every duration here is in seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from tracestream.schemas import AnomalyRecord, MetricWindow, Topics
from tracestream.streams._anomaly import METRICS
from tracestream.streams._json import model_json
from tracestream.streams._metrics import PipelineMetrics
from tracestream.streams._pipeline import BatchOutput

from ._heap import HeapKeeper
from ._transport import Message, Transport

__all__ = [
    "Backoff",
    "Publisher",
    "observe_published",
    "output_messages",
    "quiet_client_debug_logs",
    "window_key",
]

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays between attempts to publish one batch: ``initial_s``, times ``factor``
    after each failure, at most ``max_s``. There is no last attempt: the worker
    holds the batch (backpressure) until the broker takes it or the process ends."""

    initial_s: float = 0.1
    max_s: float = 5.0
    factor: float = 2.0

    def delays_s(self) -> Iterator[float]:
        """The delay before each resend, in seconds, without end."""
        delay_s = self.initial_s
        while True:
            yield delay_s
            delay_s = min(delay_s * self.factor, self.max_s)


def window_key(record: MetricWindow | AnomalyRecord) -> bytes:
    """The Kafka key of a window or anomaly: its metric key, so one key stays on one partition."""
    return f"{record.project}|{record.service}|{record.model}|{record.kind}|{record.name}".encode()


def output_messages(topics: Topics, out: BatchOutput) -> list[Message]:
    """The Kafka records of a batch's output, in the order they are sent.

    Spans and traces are keyed by trace id (a trace's records stay on one
    partition), windows and anomalies by their metric key; dead letters and
    scores keep the consumed record's key (and, for dead letters, headers).
    """
    messages: list[Message] = [
        (topics.events_dlq, None, d.key, d.value, list(d.headers)) for d in out.dead_letters
    ]
    messages += [(topics.scores, None, key, value, None) for key, value in out.scores]
    messages += [(topics.spans, None, r.trace_id.encode(), model_json(r), None) for r in out.spans]
    messages += [
        (topics.traces, None, r.trace_id.encode(), model_json(r), None) for r in out.traces
    ]
    messages += [(topics.metrics, None, window_key(w), model_json(w), None) for w in out.windows]
    messages += [
        (topics.anomalies, None, window_key(a), model_json(a), None) for a in out.anomalies
    ]
    return messages


def observe_published(metrics: PipelineMetrics, out: BatchOutput) -> None:
    """Update the metrics for a batch whose output the broker acknowledged."""
    metrics.observe_spans(out.spans)
    for trace in out.traces:
        metrics.observe_trace(trace)
    if out.windows:
        metrics.windows_closed.inc(len(out.windows))
        # A closed window that is not anomalous clears its label set's flag;
        # anomalies of the same batch set it again below.
        for w in out.windows:
            for metric in METRICS:
                metrics.observe_clear(w.service, w.model or None, metric)
    for anomaly in out.anomalies:
        metrics.observe_anomaly(anomaly)


def quiet_client_debug_logs() -> None:
    """Raise aiokafka's logger to INFO (or the root level) for both runtimes' producers.

    aiokafka logs every produced record at DEBUG; with its logger left at
    NOTSET each send built a LogRecord even when handlers dropped it (~5% of
    a batch). A level set higher already (the process's log policy) stays.
    """
    library = logging.getLogger("aiokafka")
    wanted = max(logging.INFO, logging.root.level)
    if library.level < wanted:
        library.setLevel(wanted)


class Publisher:
    """Sends a batch's output and state changes until acknowledged, then observes them.

    Who may call it: one task at a time (the runtime's batch lock); the
    runtime commits the batch's offsets only after :meth:`publish` returns.

    Args:
        transport: the runtime's producer (replaced in tests by an in-memory one).
        topics: where the outputs go.
        metrics: the worker's metrics.
        changelog: the changelog records of every state changed since the last
            call (the runtime flushes its stores); called once per publish.
        gc_full_collect_s: the heap policy after each published batch; see
            :class:`~tracestream.streams.runtime._heap.HeapKeeper` (0: CPython's own GC).
        backoff: the delays between attempts.
        sleep: waits between attempts (``asyncio.sleep``; a parameter so tests
            run the retry loop without waiting).
        clock: monotonic seconds, for the lines that say how long a batch was held.
        reminder_s: while a batch is held, a line this often.
    """

    def __init__(
        self,
        transport: Transport,
        topics: Topics,
        metrics: PipelineMetrics,
        changelog: Callable[[], list[Message]],
        *,
        gc_full_collect_s: float = 0.0,
        backoff: Backoff | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        reminder_s: float = 60.0,
    ) -> None:
        self.transport = transport
        self.topics = topics
        self.metrics = metrics
        self.backoff = backoff or Backoff()
        self.heap = HeapKeeper(gc_full_collect_s)
        self._changelog = changelog
        self._sleep = sleep
        self._clock = clock
        self.reminder_s = reminder_s

    async def publish(self, out: BatchOutput) -> None:
        """Produce a batch's outputs, then its state changes; wait for every ack of each.

        Outputs first, state second: a crash in between replays the batch into
        the old state (duplicates downstream); the other order could restore
        state that marks the batch's events as seen while their outputs were
        never acked (loss). Blocks while the broker refuses (backpressure);
        raises nothing but cancellation.
        """
        messages = output_messages(self.topics, out)
        changes = self._changelog()
        if messages:
            await self.send_until_acked(messages)
        if changes:
            await self.send_until_acked(changes)
        observe_published(self.metrics, out)
        self.heap.after_batch()

    async def send_until_acked(self, messages: Sequence[Message]) -> None:
        """Send every message and wait for the acks; on any failure send them all again.

        A partly sent set is sent again whole: downstream gets duplicates (same
        event ids and versions, which the sinks deduplicate), never a gap. A
        crash while retrying replays the batch from its committed offsets.
        Every failure is counted; the log gets a line per change (see the module).
        """
        delays_s = self.backoff.delays_s()
        held = _Held(len(messages))
        while True:
            acks: list[Awaitable[object]] = []
            try:
                await self.transport.send(messages, acks)
                await asyncio.gather(*acks)
                if held.attempts:
                    _log.warning(
                        "published the held batch of %d records after %.1fs and %d failed attempts",
                        held.records,
                        self._clock() - held.since,
                        held.attempts,
                    )
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure: resend the whole set
                for ack in acks:  # no "exception never retrieved" for the others
                    if isinstance(ack, asyncio.Future):
                        ack.add_done_callback(_retrieve)
                delay_s = next(delays_s)
                self._note_failure(exc, held, delay_s)
                await self.transport.reset()
                await self._sleep(delay_s)

    def _note_failure(self, exc: BaseException, held: _Held, retry_in_s: float) -> None:
        """Count a failed attempt; log it when it changes what the log last said."""
        error = type(exc).__name__
        self.metrics.publish_failures.labels(error).inc()
        now = self._clock()
        held.attempts += 1
        if held.attempts == 1:
            held.since = held.said = now
            held.errors.add(error)
            _log.warning(
                "publishing a batch of %d records failed (%s: %s); holding it and sending it "
                "again with backoff (first in %.1fs, then up to every %.0fs) until the broker "
                "acknowledges it",
                held.records,
                error,
                exc,
                retry_in_s,
                self.backoff.max_s,
            )
        elif error not in held.errors or now - held.said >= self.reminder_s:
            held.said = now
            held.errors.add(error)
            _log.warning(
                "still holding the batch of %d records after %.0fs and %d failed attempts "
                "(now %s: %s)",
                held.records,
                now - held.since,
                held.attempts,
                error,
                exc,
            )

    def note_commit_failure(self, exc: BaseException) -> None:
        """Count and log offsets the group refused to commit (the records are replayed)."""
        self.metrics.publish_failures.labels(f"commit_{type(exc).__name__}").inc()
        _log.warning("committing offsets failed (%s: %s)", type(exc).__name__, exc)

    def observe_batch(
        self,
        seconds: float,
        next_offsets: Mapping[tuple[str, int], int],
        highwater: Callable[[str, int], int | None],
    ) -> None:
        """Record a finished batch: its duration, the time, and the lag of each partition.

        Args:
            seconds: wall time of the batch, from consumed to published.
            next_offsets: (topic, partition) -> the offset after the batch's last record.
            highwater: the consumer's high watermark of (topic, partition), if known.
        """
        m = self.metrics
        m.batch_duration.observe(seconds)
        m.last_batch_timestamp.set(time.time())
        for (topic, partition), next_offset in next_offsets.items():
            try:
                mark = highwater(topic, partition)
            except Exception:  # noqa: BLE001 - lag is best effort; never fail a batch over it
                continue
            if mark is not None:
                m.consumer_lag.labels(topic, str(partition)).set(max(mark - next_offset, 0))


@dataclass(slots=True)
class _Held:
    """A batch being sent again, and what the log has said about it so far."""

    records: int
    attempts: int = 0
    since: float = 0.0
    said: float = 0.0
    errors: set[str] = field(default_factory=set)


def _retrieve(fut: asyncio.Future[object]) -> None:
    if not fut.cancelled():
        fut.exception()
