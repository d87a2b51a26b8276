"""The OTLP/HTTP receiver: a Starlette app answering as the OTLP specification says.

``POST /v1/traces``:

======================================  ===========================================
request                                 answer
======================================  ===========================================
every span converted and acknowledged   200, ``ExportTraceServiceResponse`` without
                                        ``partial_success``
some spans not convertible              200 with ``partial_success.rejected_spans``
                                        and a message; those spans went to the DLQ
empty request                           200
missing or wrong ingest key             401
body does not decode (or bad gzip)      400
body over the limit after gunzip        413
other Content-Type / Content-Encoding   415
receiver's in-flight budget spent       429 + ``Retry-After``
Kafka down or too slow                  503 + ``Retry-After`` (never 500)
======================================  ===========================================

``POST /v1/metrics`` and ``/v1/logs`` answer 404 (non-retryable, as the
OpenTelemetry Collector answers a signal it has no pipeline for). Every answer
uses the request's content type; failures carry a ``google.rpc.Status``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracestream.schemas import DEFAULT_MAX_EVENT_BYTES

from ._body import BadEncoding, BodyReader, BodyTooLarge
from ._codec import (
    JSON,
    PROTOBUF,
    UndecodableRequest,
    encode_response,
    encode_status,
)
from ._convert import Conversion
from ._json_spans import convert_body
from ._keys import IngestKeys, hash_key
from ._metrics import ReceiverMetrics
from ._sink import RecordSink, SinkBusy, SinkError

__all__ = ["ReceiverConfig", "create_app"]

logger = logging.getLogger("tracestream.producers.otlp")

# gRPC status codes for google.rpc.Status.code (the spec lets clients ignore them).
_INVALID_ARGUMENT: Final = 3
_RESOURCE_EXHAUSTED: Final = 8
_UNAVAILABLE: Final = 14
_UNAUTHENTICATED: Final = 16
_UNIMPLEMENTED: Final = 12
_LOG_INTERVAL_S: Final = 10.0
#: Bodies from this size on are decoded and converted in a worker thread.
_THREAD_BODY_BYTES: Final = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ReceiverConfig:
    """What the receiver needs besides its sink.

    Args:
        project: the project of every span when no ingest keys are configured.
        ingest_keys: ``hash_key(key) -> project``; when not empty, or an
            :class:`IngestKeys` (a keys file, re-read when it changes), every
            request needs ``Authorization: Bearer <key>`` with one of them.
        default_environment: when a resource names no deployment environment.
        max_body_bytes: the largest request body, after decompression (413 past it).
        max_event_bytes: the largest event produced (a larger span is rejected).
        retry_after_s: the ``Retry-After`` of 429 and 503 answers.
    """

    project: str = "default"
    ingest_keys: Mapping[str, str] = field(default_factory=dict)
    default_environment: str = "development"
    max_body_bytes: int = 64 * 1024 * 1024
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
    retry_after_s: int = 5

    @property
    def keys_required(self) -> bool:
        """Whether requests must present a key: some are configured, or a keys file is
        watched (all its keys revoked means nobody may send, not everybody)."""
        return bool(self.ingest_keys) or isinstance(self.ingest_keys, IngestKeys)

    def project_for(self, authorization: str) -> str | None:
        """The project of a request with this ``Authorization`` header; ``None``: refuse it.

        The one rule for OTLP/HTTP and OTLP/gRPC alike.
        """
        if not self.keys_required:
            return self.project
        scheme, _, key = authorization.partition(" ")
        return self.ingest_keys.get(hash_key(key.strip())) if scheme.lower() == "bearer" else None


class _Failure(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _media_type(header: str | None) -> str:
    return (header or "").split(";", 1)[0].strip().lower()


def _answer_type(request: Request) -> str:
    """The content type to answer in: the request's when it is an OTLP one, else JSON."""
    media = _media_type(request.headers.get("content-type"))
    return media if media in (PROTOBUF, JSON) else JSON


class _Receiver:
    def __init__(self, config: ReceiverConfig, sink: RecordSink, metrics: ReceiverMetrics) -> None:
        self.config = config
        self.sink = sink
        self.metrics = metrics
        self._last_log: dict[str, float] = {}

    def _project(self, request: Request) -> str:
        project = self.config.project_for(request.headers.get("authorization", ""))
        if project is None:
            # Never log the key itself, not even a part of it.
            raise _Failure(
                401, _UNAUTHENTICATED, "missing or unknown ingest key (Authorization: Bearer <key>)"
            )
        return project

    async def _body(self, request: Request, media: str) -> bytes:
        if media not in (PROTOBUF, JSON):
            raise _Failure(
                415, _INVALID_ARGUMENT, f"Content-Type must be {PROTOBUF} or {JSON}, not {media!r}"
            )
        encoding = _media_type(request.headers.get("content-encoding"))
        if encoding not in ("", "identity", "gzip"):
            raise _Failure(
                415, _INVALID_ARGUMENT, f"Content-Encoding {encoding!r} is not supported (gzip is)"
            )
        limit = self.config.max_body_bytes
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            raise _Failure(
                413, _INVALID_ARGUMENT, f"request body is over the limit of {limit} bytes"
            )
        reader = BodyReader(limit_bytes=limit, gzip=encoding == "gzip")
        try:
            async for chunk in request.stream():
                reader.feed(chunk)
            return reader.finish()
        except BodyTooLarge as exc:
            raise _Failure(413, _INVALID_ARGUMENT, str(exc)) from None
        except BadEncoding as exc:
            raise _Failure(400, _INVALID_ARGUMENT, str(exc)) from None

    async def traces(self, request: Request) -> Response:
        started = time.perf_counter()
        answer = _answer_type(request)
        try:
            response, accepted, rejected = await self._export(request, answer)
        except _Failure as failure:
            response, accepted, rejected = self._failure(answer, failure), 0, 0
        self.metrics.observe(
            response.status_code, accepted, rejected, time.perf_counter() - started
        )
        return response

    async def _export(self, request: Request, answer: str) -> tuple[Response, int, int]:
        """The answer to a trace export, with the spans accepted and rejected.

        Raises:
            _Failure: the request is answered with an error status.
        """
        project = self._project(request)
        media = _media_type(request.headers.get("content-type"))
        body = await self._body(request, media)
        try:
            if len(body) < _THREAD_BODY_BYTES:
                conversion = self._convert(body, media, project)
            else:
                # Seconds of CPU for a large body: off the event loop, so it keeps
                # taking Kafka's acks and other requests meanwhile.
                conversion = await asyncio.to_thread(self._convert, body, media, project)
        except UndecodableRequest as exc:
            raise _Failure(400, _INVALID_ARGUMENT, str(exc)) from None
        if not conversion.records:
            return Response(encode_response(answer), media_type=answer), 0, 0
        try:
            refused = await self.sink.produce(conversion.records)
        except SinkBusy as exc:
            raise _Failure(429, _RESOURCE_EXHAUSTED, str(exc)) from None
        except SinkError as exc:
            raise _Failure(503, _UNAVAILABLE, str(exc)) from None
        rejected = conversion.rejected
        messages = list(conversion.messages)
        # A record Kafka refused for good: an event is a lost span, a dead letter is
        # a span already counted as rejected.
        lost = [m for m, r in zip(refused, conversion.records, strict=True) if m and not r.dlq]
        if lost:
            rejected += len(lost)
            messages.append(lost[0])
        message = "; ".join(messages)
        if rejected:
            self._log(logging.INFO, "tracestream otlp: rejected %d of %d spans: %s", rejected,
                      conversion.accepted + conversion.rejected, message)  # fmt: skip
        response = Response(
            encode_response(answer, rejected, message if rejected else ""), media_type=answer
        )
        return response, conversion.accepted - len(lost), rejected

    def _convert(self, body: bytes, media: str, project: str) -> Conversion:
        """Decode and convert a body. Pure CPU; raises :class:`UndecodableRequest`."""
        return convert_body(
            body,
            media,
            project=project,
            default_environment=self.config.default_environment,
            max_event_bytes=self.config.max_event_bytes,
        )

    def _log(self, level: int, message: str, *args: object) -> None:
        """Log at most one line per ``_LOG_INTERVAL_S`` per message: a down Kafka under
        load would otherwise write a line per request."""
        now = time.monotonic()
        if now - self._last_log.get(message, -_LOG_INTERVAL_S) >= _LOG_INTERVAL_S:
            self._last_log[message] = now
            logger.log(level, message, *args)

    def _failure(self, answer: str, failure: _Failure) -> Response:
        headers = {}
        if failure.status in (429, 503):
            headers["Retry-After"] = str(self.config.retry_after_s)
        if failure.status >= 500 or failure.status == 429:
            self._log(
                logging.WARNING,
                "tracestream otlp: answering %d: %s",
                failure.status,
                failure.message,
            )
        return Response(
            encode_status(answer, failure.code, failure.message),
            status_code=failure.status,
            media_type=answer,
            headers=headers,
        )

    async def unsupported_signal(self, request: Request) -> Response:
        signal = request.url.path.rsplit("/", 1)[-1]
        failure = _Failure(404, _UNIMPLEMENTED, f"tracestream accepts traces only, not {signal}")
        return self._failure(_answer_type(request), failure)


def create_app(
    config: ReceiverConfig,
    sink: RecordSink,
    *,
    metrics: ReceiverMetrics | None = None,
    lifespan: Any = None,
) -> Starlette:
    """The ASGI app of the receiver, producing through ``sink``.

    Args:
        metrics: where requests and spans are counted (served on ``GET /metrics``);
            a fresh registry of its own by default.
        lifespan: Starlette's lifespan context (``build_server`` starts and stops
            its :class:`KafkaSink` with it).
    """
    if metrics is None:
        from prometheus_client import CollectorRegistry

        metrics = ReceiverMetrics(CollectorRegistry())
    receiver = _Receiver(config, sink, metrics)
    registry = metrics.registry

    async def scrape(_: Request) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    routes = [
        Route("/v1/traces", receiver.traces, methods=["POST"]),
        Route("/v1/metrics", receiver.unsupported_signal, methods=["POST"]),
        Route("/v1/logs", receiver.unsupported_signal, methods=["POST"]),
        Route("/metrics", scrape, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
