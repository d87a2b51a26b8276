"""tracestream.producers.otlp: the OTLP/HTTP receiver (install ``tracestream[otlp]``).

Applications instrumented with OpenTelemetry send their traces here
(``OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318``); each span becomes a
``span`` event on the events topic, the same as the SDK's, and so goes through
the same worker (DLQ, redaction, pricing, assembly). Run it with
``tracestream otlp``; ``docs/otel.md`` maps every attribute.

The other direction too: :class:`TracestreamSpanExporter` sends an OTel SDK's
spans through the same conversion to a transport, no receiver in between, and
:func:`instrument_libraries` (``tracestream.instrument()``) turns on the
instrumentation of the installed model clients with it.

Not imported by ``tracestream.producers``: the SDK's bare install has no
protobuf, no OpenTelemetry SDK and no web server.
"""

from ._app import ReceiverConfig, create_app
from ._codec import UndecodableRequest, decode_request
from ._convert import Conversion, OutRecord, convert_request
from ._exporter import TracestreamSpanExporter
from ._genai import GenAiFields, OtelEvent, map_genai
from ._identity import span_event_id
from ._instrument import Instrumented, instrument_libraries
from ._keys import (
    IngestKeys,
    KeyRecord,
    add_key,
    hash_key,
    new_key,
    parse_keys,
    read_key_records,
    revoke_keys,
)
from ._metrics import ReceiverMetrics
from ._serve import InsecureBinding, build_server, check_binding, is_loopback
from ._sink import InMemorySink, KafkaSink, RecordSink, SinkBusy, SinkError, SinkUnavailable

__all__ = [
    "Conversion",
    "GenAiFields",
    "InMemorySink",
    "IngestKeys",
    "InsecureBinding",
    "Instrumented",
    "KafkaSink",
    "KeyRecord",
    "OtelEvent",
    "OutRecord",
    "ReceiverConfig",
    "ReceiverMetrics",
    "RecordSink",
    "SinkBusy",
    "SinkError",
    "SinkUnavailable",
    "TracestreamSpanExporter",
    "UndecodableRequest",
    "add_key",
    "build_server",
    "check_binding",
    "convert_request",
    "create_app",
    "decode_request",
    "hash_key",
    "instrument_libraries",
    "is_loopback",
    "map_genai",
    "new_key",
    "parse_keys",
    "read_key_records",
    "revoke_keys",
    "span_event_id",
]
