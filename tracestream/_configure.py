"""``tracestream.configure()``: the one call that sets up tracing for a service.

This is the edge where settings are read (arguments > ``TRACESTREAM_*``
environment > TOML file > defaults); the SDK itself takes typed arguments.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._settings import load_settings

if TYPE_CHECKING:
    from prometheus_client.registry import CollectorRegistry

    from .producers import Mask, Tracer, Transport

__all__ = ["configure"]


def configure(
    *,
    transport: Transport | None = None,
    mask: Mask | None = None,
    metrics_registry: CollectorRegistry | None = None,
    **overrides: Any,
) -> Tracer:
    """Build the process-wide tracer from the settings and make it current.

    Args:
        transport: where events go; default a :class:`KafkaTransport` to
            ``kafka_bootstrap``, topic ``<topic_prefix>tracestream.events``.
        mask: hook applied to values before they leave the process.
        metrics_registry: prometheus-client registry for the ``tracestream_sdk_*``
            metrics; default the global registry when prometheus-client is installed.
        **overrides: any setting by name (``service="api"``, ``sdk_sample_rate=0.1``).

    Returns:
        The tracer, also returned by ``tracestream.producers.get_tracer()``. A
        previously configured tracer is shut down (within its timeout).

    Raises:
        SettingsError: a setting is invalid (the only error; raised here, at
            start-up, never later from the SDK).
    """
    from .producers import KafkaTransport, Tracer, set_tracer
    from .schemas import Topics

    settings = load_settings(**overrides)
    if transport is None:
        transport = KafkaTransport(
            bootstrap_servers=settings.kafka_bootstrap,
            topic=Topics(settings.topic_prefix).events,
            max_buffer_events=settings.sdk_max_buffer_events,
            max_buffer_bytes=settings.sdk_max_buffer_bytes,
            linger_ms=settings.sdk_linger_ms,
            max_batch_bytes=settings.sdk_batch_size_bytes,
            compression=None if settings.sdk_compression == "none" else settings.sdk_compression,
            request_timeout_ms=settings.sdk_request_timeout_ms,
        )
    if metrics_registry is None:
        try:
            from prometheus_client import REGISTRY
        except ImportError:
            pass
        else:
            metrics_registry = REGISTRY
    tracer = Tracer(
        project=settings.project,
        service=settings.service,
        environment=settings.environment,
        transport=transport,
        release=settings.release or None,
        sample_rate=settings.sdk_sample_rate,
        mask=mask,
        max_payload_bytes=settings.sdk_max_payload_bytes,
        max_event_bytes=settings.max_event_bytes,
        shutdown_timeout_s=settings.sdk_shutdown_timeout_s,
        metrics_registry=metrics_registry,
        enabled=settings.sdk_enabled,
    )
    previous = set_tracer(tracer)
    if previous is not None:
        previous.shutdown()
    return tracer
