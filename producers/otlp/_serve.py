"""Running the receiver: the safe-binding rule, and uvicorn around the app and a KafkaSink."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from tracestream.schemas import Topics, TracestreamError

from ._app import ReceiverConfig, create_app
from ._keys import IngestKeys
from ._metrics import ReceiverMetrics
from ._sink import KafkaSink

__all__ = ["InsecureBinding", "build_server", "check_binding", "is_loopback"]

logger = logging.getLogger("tracestream.producers.otlp")


class InsecureBinding(TracestreamError):
    """Refusing to listen beyond loopback without ingest keys: anyone could write traces."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) is reachable from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve anywhere


def check_binding(host: str, ingest_keys: Mapping[str, str]) -> str:
    """What the receiver says at start about who may send; refuses an open binding.

    Returns:
        A one-line notice for the operator.

    Raises:
        InsecureBinding: ``host`` is not loopback and no ingest key is configured.
    """
    if isinstance(ingest_keys, IngestKeys):
        # Safe even when empty: every request is refused until a key is created.
        return (
            f"ingest keys required ({len(ingest_keys)} configured; "
            f"{ingest_keys.path} is re-read when it changes)"
        )
    if ingest_keys:
        return f"ingest keys required ({len(ingest_keys)} configured)"
    if not is_loopback(host):
        raise InsecureBinding(
            f"refusing to listen on {host} without ingest keys: anyone who can reach it could "
            "write traces. Configure an ingest key, or listen on 127.0.0.1"
        )
    return "no ingest keys: accepting every request from this machine (loopback only)"


def build_server(
    config: ReceiverConfig,
    *,
    host: str,
    port: int,
    bootstrap_servers: str,
    topics: Topics,
    produce_timeout_s: float = 8.0,
    log_level: str = "warning",
    metrics: ReceiverMetrics | None = None,
    grpc_port: int | None = None,
) -> Any:
    """A ``uvicorn.Server`` serving the receiver, its KafkaSink started and stopped with it.

    Run it with ``await server.serve()`` (or ``server.run()``); ``server.should_exit = True``
    stops it. ``GET /metrics`` serves ``metrics`` (a fresh registry by default).
    With ``grpc_port``, OTLP/gRPC is served on it as well, from the same event loop,
    sink and metrics. Raises :class:`InsecureBinding` before anything listens.
    """
    import uvicorn
    from prometheus_client import CollectorRegistry

    check_binding(host, config.ingest_keys)
    sink = KafkaSink(
        bootstrap_servers=bootstrap_servers,
        topics=topics,
        produce_timeout_s=produce_timeout_s,
        max_record_bytes=config.max_event_bytes,
    )

    if metrics is None:
        metrics = ReceiverMetrics(CollectorRegistry())
    counted = metrics

    @contextlib.asynccontextmanager
    async def lifespan(_: object) -> AsyncIterator[None]:
        await sink.start()
        grpc_server = None
        try:
            if grpc_port is not None:
                from ._grpc import build_grpc_server

                grpc_server = build_grpc_server(config, sink, counted, host=host, port=grpc_port)
                await grpc_server.start()
            yield
        finally:
            if grpc_server is not None:
                await grpc_server.stop(5.0)
            await sink.stop()

    app = create_app(config, sink, metrics=metrics, lifespan=lifespan)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level=log_level,
            access_log=False,
            lifespan="on",
            # Headers are logged by nobody: an Authorization header never reaches a log.
            server_header=False,
        )
    )
    server.sink = sink  # type: ignore[attr-defined]
    return server
