"""Build the worker's pure stages from the settings: one wiring for the worker and replay.

The edge between :class:`~tracestream._settings.Settings` and the typed
constructors of ``streams/``. The worker runtimes own the state stores (their
changelogs), so the stages are made in two steps: the stateless ones first,
then the stateful ones over the stores the runtime provides.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tracestream.streams import Pipeline, Pricer, Stages

    from ._settings import Settings

__all__ = ["add_stateful_stages", "build_pipeline", "pricer_from_settings", "stateless_stages"]


def pricer_from_settings(settings: Settings) -> Pricer:
    """The price table with the project overrides of ``price_overrides``."""
    from tracestream.streams import PriceOverride, Pricer

    return Pricer([PriceOverride.model_validate(item) for item in settings.price_overrides])


def stateless_stages(settings: Settings) -> Stages:
    """Validation and redaction; the stateful stages are added by :func:`add_stateful_stages`."""
    from tracestream._redaction_settings import redaction_policy
    from tracestream.streams import Redactor, Stages, Validator

    return Stages(
        validator=Validator(
            max_event_bytes=settings.max_event_bytes, max_depth=settings.max_nesting_depth
        ),
        redactor=Redactor(redaction_policy(settings)) if settings.redact_enabled else None,
        assembler=None,
    )


def add_stateful_stages(
    stages: Stages,
    settings: Settings,
    *,
    trace_store: MutableMapping[str, Any],
    window_store: MutableMapping[Any, Any],
    baseline_store: MutableMapping[Any, Any],
) -> None:
    """Add assembly (with pricing), rolling windows and anomaly scoring over the given stores."""
    from tracestream.streams import AnomalyScorer, Assembler, WindowAggregator

    stages.assembler = Assembler(
        pricer_from_settings(settings),
        trace_store,
        grace_s=settings.grace_s,
        idle_timeout_s=settings.idle_timeout_s,
        max_spans_per_trace=settings.max_spans_per_trace,
        max_open_traces=settings.max_open_traces,
        linger_s=settings.trace_linger_s,
        max_state_bytes=settings.max_trace_state_mb * 1024 * 1024,
    )
    stages.windows = WindowAggregator(
        window_store, window_s=settings.window_s, allowed_lateness_s=settings.allowed_lateness_s
    )
    stages.scorer = AnomalyScorer(
        baseline_store,
        threshold=settings.anomaly_threshold,
        baseline_windows=settings.anomaly_baseline_windows,
        min_baseline=min(settings.anomaly_min_baseline, settings.anomaly_baseline_windows),
        min_count=settings.anomaly_min_count,
    )


def build_pipeline(settings: Settings) -> Pipeline:
    """The worker's pipeline, wired as the worker wires it, over fresh in-memory stores.

    For ``tracestream replay`` (its pipeline factory): every call starts from no
    state, and counts into a registry of its own, never the process's default one.
    """
    from prometheus_client import CollectorRegistry

    from tracestream.streams import Pipeline, PipelineMetrics

    stages = stateless_stages(settings)
    add_stateful_stages(stages, settings, trace_store={}, window_store={}, baseline_store={})
    return Pipeline(stages, PipelineMetrics(CollectorRegistry()))
