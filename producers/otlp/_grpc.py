"""OTLP/gRPC (``TraceService/Export``, port 4317): the same conversion and sink as OTLP/HTTP.

Answers as the OTLP specification's gRPC section says:

=======================================  =============================================
request                                  answer
=======================================  =============================================
every span converted and acknowledged    OK, ``partial_success`` unset
some spans not convertible               OK with ``partial_success`` (those to the DLQ)
missing or wrong ingest key              UNAUTHENTICATED
receiver's in-flight budget spent        RESOURCE_EXHAUSTED with ``RetryInfo``
                                         (retryable only with it, per the spec)
Kafka down or too slow                   UNAVAILABLE with ``RetryInfo`` (retryable)
=======================================  =============================================

gRPC itself handles gzip, the message size limit (RESOURCE_EXHAUSTED past
``max_body_bytes``) and undecodable messages. The ``RetryInfo`` travels as a
``google.rpc.Status`` in the ``grpc-status-details-bin`` trailer, where gRPC
clients (the OpenTelemetry exporters among them) look for it.
"""

from __future__ import annotations

import time
from typing import Any, NoReturn

from google.protobuf.duration_pb2 import Duration
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped]
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from ._app import ReceiverConfig
from ._convert import convert_request
from ._metrics import ReceiverMetrics
from ._sink import RecordSink, SinkBusy, SinkError

__all__ = ["build_grpc_server"]


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, config: ReceiverConfig, sink: RecordSink, metrics: ReceiverMetrics) -> None:
        self.config = config
        self.sink = sink
        self.metrics = metrics

    async def Export(
        self, request: ExportTraceServiceRequest, context: Any
    ) -> ExportTraceServiceResponse:
        started = time.perf_counter()
        # Aborts count themselves before the client hears the answer; an
        # unexpected exception reaches grpc (UNKNOWN) uncounted as a success.
        response, accepted, rejected = await self._export(request, context, started)
        self.metrics.observe(200, accepted, rejected, time.perf_counter() - started)
        return response

    async def _export(
        self, request: ExportTraceServiceRequest, context: Any, started: float
    ) -> tuple[ExportTraceServiceResponse, int, int]:
        import grpc

        project = self._project(context)
        if project is None:
            await self._abort(
                context,
                started,
                401,
                grpc.StatusCode.UNAUTHENTICATED,
                "missing or unknown ingest key (authorization: Bearer <key>)",
            )
        conversion = convert_request(
            request,
            project=project,
            default_environment=self.config.default_environment,
            max_event_bytes=self.config.max_event_bytes,
        )
        if not conversion.records:
            return ExportTraceServiceResponse(), 0, 0
        try:
            refused = await self.sink.produce(conversion.records)
        except SinkBusy as exc:
            await self._abort_retry(
                context, started, 429, grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc)
            )
        except SinkError as exc:
            await self._abort_retry(context, started, 503, grpc.StatusCode.UNAVAILABLE, str(exc))
        lost = [m for m, r in zip(refused, conversion.records, strict=True) if m and not r.dlq]
        rejected = conversion.rejected + len(lost)
        accepted = conversion.accepted - len(lost)
        response = ExportTraceServiceResponse()
        if rejected:
            message = "; ".join([*conversion.messages, *lost[:1]])
            response.partial_success.CopyFrom(
                ExportTracePartialSuccess(rejected_spans=rejected, error_message=message)
            )
        return response, accepted, rejected

    def _project(self, context: Any) -> str | None:
        metadata = dict(context.invocation_metadata() or ())
        return self.config.project_for(str(metadata.get("authorization", "")))

    async def _abort(
        self, context: Any, started: float, status: int, code: Any, message: str
    ) -> NoReturn:
        # Counted first: grpc sends the status from inside abort(), so a client
        # (or a test) that reads /metrics on hearing it must find it counted.
        self.metrics.observe(status, 0, 0, time.perf_counter() - started)
        await context.abort(code, message)
        raise AssertionError("context.abort raises")  # for the type checker: it never returns

    async def _abort_retry(
        self, context: Any, started: float, status: int, code: Any, message: str
    ) -> NoReturn:
        self.metrics.observe(status, 0, 0, time.perf_counter() - started)
        details = status_pb2.Status(code=code.value[0], message=message)
        details.details.add().Pack(
            error_details_pb2.RetryInfo(retry_delay=Duration(seconds=self.config.retry_after_s))
        )
        await context.abort(
            code,
            message,
            trailing_metadata=(("grpc-status-details-bin", details.SerializeToString()),),
        )
        raise AssertionError("context.abort raises")


def build_grpc_server(
    config: ReceiverConfig, sink: RecordSink, metrics: ReceiverMetrics, *, host: str, port: int
) -> Any:
    """A ``grpc.aio.Server`` serving ``TraceService`` on ``host:port``, not yet started.

    Call ``await server.start()`` and ``await server.stop(grace_s)`` on the event
    loop that runs ``sink``.
    """
    import grpc

    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", config.max_body_bytes),
            ("grpc.max_send_message_length", 4 * 1024 * 1024),
        ]
    )
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(  # type: ignore[no-untyped-call]
        _TraceService(config, sink, metrics), server
    )
    server.add_insecure_port(f"{host}:{port}")
    return server
