"""tracestream.producers: the SDK services embed to emit trace events.

Two lines to trace a service::

    import tracestream
    tracer = tracestream.configure(service="support-bot")   # reads TRACESTREAM_* settings

    with tracer.trace("answer", input=question, user_id=user.id):
        with tracer.generation(model="gpt-4o", provider="openai", input=messages) as gen:
            gen.record_output(reply)
            gen.record_usage(input_tokens=812, output_tokens=64)

The application thread only builds and enqueues events: it never waits on the
network and nothing here raises into it. See ``docs/sdk.md``.
"""

from ._context import current_span, with_context
from ._decorators import traced
from ._global import get_tracer, set_tracer
from ._kafka import KafkaTransport
from ._memory import InMemoryTransport, JsonlTransport
from ._payload import TRUNCATED_KEY, Mask
from ._record_batches import QueuedBatch, murmur2_partition, queue_record_batches
from ._span import Span
from ._tracer import Tracer, TracerStats
from ._transport import Transport, TransportStats

__all__ = [
    "TRUNCATED_KEY",
    "InMemoryTransport",
    "JsonlTransport",
    "KafkaTransport",
    "Mask",
    "QueuedBatch",
    "Span",
    "Tracer",
    "TracerStats",
    "Transport",
    "TransportStats",
    "current_span",
    "get_tracer",
    "murmur2_partition",
    "queue_record_batches",
    "set_tracer",
    "traced",
    "with_context",
]
