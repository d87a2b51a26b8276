"""tracestream: structured, searchable traces of AI applications.

``import tracestream`` stays cheap: the SDK is imported here, the pipeline
(Faust, ClickHouse) only by the CLI commands that need it, and the
OpenTelemetry instrumentation only when :func:`instrument` is called.
"""

from __future__ import annotations

import typing as _typing

from tracestream.schemas import TracestreamError

from ._configure import configure

if _typing.TYPE_CHECKING:
    from collections.abc import Iterable

    from .producers import Transport
    from .producers.otlp import Instrumented

__all__ = ["TracestreamError", "__version__", "configure", "instrument"]

__version__ = "0.1.0"


def instrument(
    *,
    transport: Transport | None = None,
    libraries: Iterable[str] | None = None,
    **overrides: _typing.Any,
) -> Instrumented:
    """Record every call of the installed model clients (openai, anthropic, LangChain).

    Needs ``pip install 'tracestream[instrument]'``. Each call becomes a
    generation span (model, parameters, messages, tool calls, streamed output,
    usage with cached and reasoning tokens, errors) sent to the events topic
    like the SDK's spans; clients that are not installed are skipped silently.
    Never blocks a call: spans wait in a bounded queue, dropped and counted
    when it is full.

    Args:
        transport: where events go; default a Kafka transport to the settings'
            ``kafka_bootstrap`` and events topic.
        libraries: which of ``openai``, ``anthropic``, ``langchain`` to try (default all).
        **overrides: any setting by name (``project="p"``, ``service="api"``).

    Returns:
        What was instrumented and skipped; ``.shutdown()`` turns it off and flushes.

    Raises:
        SettingsError: a setting is invalid.
        ImportError: the ``[instrument]`` extra is not installed.
    """
    from ._settings import load_settings
    from .producers.otlp import TracestreamSpanExporter, instrument_libraries

    settings = load_settings(**overrides)
    if transport is None:
        exporter = TracestreamSpanExporter.kafka(
            project=settings.project,
            bootstrap_servers=settings.kafka_bootstrap,
            topic_prefix=settings.topic_prefix,
            default_environment=settings.environment,
        )
    else:
        exporter = TracestreamSpanExporter(
            transport, project=settings.project, default_environment=settings.environment
        )
    resource = {
        "service.name": settings.service,
        "deployment.environment.name": settings.environment,
    }
    if settings.release:
        resource["service.version"] = settings.release
    return instrument_libraries(exporter, resource=resource, libraries=libraries)
