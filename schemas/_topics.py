"""Kafka topic names, shared by the SDK, the worker and the sinks.

Every name takes a configurable prefix so several deployments can share one
cluster: with prefix ``"staging."`` the raw topic is ``staging.tracestream.events``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Topics"]


@dataclass(frozen=True, slots=True)
class Topics:
    """The topic names of one deployment. Pure value object; no I/O."""

    prefix: str = ""

    @property
    def events(self) -> str:
        """Raw events from the SDK: the source of truth, retained for replay."""
        return f"{self.prefix}tracestream.events"

    @property
    def events_dlq(self) -> str:
        """Events the worker could not validate, byte for byte, with the reason in headers."""
        return f"{self.prefix}tracestream.events.dlq"

    @property
    def spans(self) -> str:
        """Validated, redacted, priced spans."""
        return f"{self.prefix}tracestream.spans"

    @property
    def traces(self) -> str:
        """Assembled traces (re-emitted with a higher version when late spans arrive)."""
        return f"{self.prefix}tracestream.traces"

    @property
    def scores(self) -> str:
        """Validated score events."""
        return f"{self.prefix}tracestream.scores"

    @property
    def metrics(self) -> str:
        """Closed rolling-metric windows."""
        return f"{self.prefix}tracestream.metrics"

    @property
    def anomalies(self) -> str:
        """Anomalous windows scored against their baseline."""
        return f"{self.prefix}tracestream.anomalies"

    @property
    def sink_dlq(self) -> str:
        """Rows ClickHouse can never accept, with the error."""
        return f"{self.prefix}tracestream.sink.dlq"

    def all(self) -> tuple[str, ...]:
        """Every topic the project creates, in a stable order."""
        return (
            self.events,
            self.events_dlq,
            self.spans,
            self.traces,
            self.scores,
            self.metrics,
            self.anomalies,
            self.sink_dlq,
        )
