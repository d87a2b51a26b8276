"""An OpenTelemetry ``SpanExporter`` that sends spans as tracestream events, no receiver needed.

For an application that already traces with the OpenTelemetry SDK::

    provider.add_span_processor(BatchSpanProcessor(TracestreamSpanExporter.kafka(project="p")))

Each span goes through the receiver's own conversion (the SDK's OTLP encoding,
then :func:`convert_request`), so an exported span and a received one are the
same event. The events go to a :class:`tracestream.producers.Transport` (the
SDK's Kafka transport by default): :meth:`export` only enqueues, never waits
on the network and never raises; a full buffer drops and counts, as the SDK
does. Spans that make no valid event are counted as rejected (the transport
has no DLQ to send them to) and logged at most once per ten seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from tracestream.producers import KafkaTransport, Transport
from tracestream.schemas import DEFAULT_MAX_EVENT_BYTES, Topics

from ._convert import convert_request

__all__ = ["TracestreamSpanExporter"]

logger = logging.getLogger("tracestream.producers.otlp")


class TracestreamSpanExporter(SpanExporter):
    """Exports OpenTelemetry spans to tracestream through a transport.

    Args:
        transport: where the events go (a :class:`KafkaTransport`, or an
            ``InMemoryTransport`` in tests).
        project: the tenant of every span.
        default_environment: when the resource names no deployment environment.
        max_event_bytes: the largest event sent (a larger span is rejected).
        shutdown_timeout_s: how long :meth:`shutdown` waits for the transport.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        project: str = "default",
        default_environment: str = "development",
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        shutdown_timeout_s: float = 10.0,
    ) -> None:
        self.transport = transport
        self._project = project
        self._environment = default_environment
        self._max_event_bytes = max_event_bytes
        self._shutdown_timeout_s = shutdown_timeout_s
        self._lock = threading.Lock()
        self._exported = 0
        self._rejected = 0
        self._last_warning = -float("inf")

    @classmethod
    def kafka(
        cls,
        *,
        project: str = "default",
        bootstrap_servers: str = "127.0.0.1:19092",
        topic_prefix: str = "",
        default_environment: str = "development",
    ) -> TracestreamSpanExporter:
        """An exporter over a new :class:`KafkaTransport` to the events topic."""
        transport = KafkaTransport(
            bootstrap_servers=bootstrap_servers,
            topic=Topics(topic_prefix).events,
            client_id="tracestream-otel-exporter",
        )
        return cls(transport, project=project, default_environment=default_environment)

    @property
    def exported(self) -> int:
        """Spans handed to the transport (its stats say what it delivered or dropped)."""
        return self._exported

    @property
    def rejected(self) -> int:
        """Spans that made no valid event."""
        return self._rejected

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Convert and enqueue. Never blocks on the network, never raises.

        Returns SUCCESS once the spans are handed over: what the transport drops
        it counts itself, and a FAILURE would only make the SDK log an error.
        """
        try:
            conversion = convert_request(
                encode_spans(spans),
                project=self._project,
                default_environment=self._environment,
                max_event_bytes=self._max_event_bytes,
            )
        except Exception:  # an exporter must not raise into the SDK
            logger.exception("tracestream exporter: could not encode %d spans", len(spans))
            return SpanExportResult.FAILURE
        sent = 0
        for record in conversion.records:
            if not record.dlq:
                self.transport.send(record.key, record.value)
                sent += 1
        with self._lock:
            self._exported += sent
            self._rejected += conversion.rejected
        if conversion.rejected:
            now = time.monotonic()
            if now - self._last_warning >= 10.0:
                self._last_warning = now
                logger.warning(
                    "tracestream exporter: %d spans make no valid event: %s",
                    conversion.rejected,
                    "; ".join(conversion.messages),
                )
        return SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Wait until the transport delivered what was exported; False on timeout."""
        return self.transport.flush(timeout_millis / 1000)

    def shutdown(self) -> None:
        """Flush and close the transport (within ``shutdown_timeout_s``)."""
        self.transport.shutdown(self._shutdown_timeout_s)
