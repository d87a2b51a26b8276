"""The replay's typed inputs: the deployment it replays (:class:`ReplayConfig`) and the run's
choices (:class:`ReplayOptions`).

Neither reads the environment: the front's ``tracestream replay`` fills both from
its settings and flags, and a library caller states them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tracestream.schemas import Topics
from tracestream.sinks import RetentionPolicy

__all__ = ["ReplayConfig", "ReplayOptions"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayConfig:
    """The deployment a replay reads and recomputes, as the worker and sink run it.

    The timing values must be the ones the pipeline factory given to
    :func:`~tracestream.replay.run_replay` wires its stages with: they decide when
    the replay closes what is still open (:func:`~._plan.flush_horizon_ms`), which
    windows are whole, and the default warm-up. They have no defaults so a caller
    takes them from the same source as the pipeline instead of from a second copy.

    Attributes:
        bootstrap_servers: Kafka bootstrap servers, comma-separated ``host:port``.
        topics: the deployment's topic names (its prefix); the replay reads ``events``.
        batch_size: most events per processing batch (the worker's batch size).
        batch_within_s: the worker's batch time bucket; a replay stamps each bucket of
            record time with its end as "now" (:func:`~._plan.batch_now_ms`).
        grace_s: the assembler's wait after a root span ended.
        idle_timeout_s: the assembler's timeout of a trace without events; also the
            default warm-up (:attr:`ReplayOptions.warmup_s`).
        window_s: length of the rolling-metrics windows.
        allowed_lateness_s: how late a span may arrive and still count in its window.
        retention: row TTLs, as the sink writes them.

    Raises:
        ValueError: ``batch_size`` below 1 or ``batch_within_s`` under a millisecond
            (the batch clock works in whole milliseconds).
    """

    bootstrap_servers: str
    topics: Topics = field(default_factory=Topics)
    batch_size: int
    batch_within_s: float
    grace_s: float
    idle_timeout_s: float
    window_s: float
    allowed_lateness_s: float
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {self.batch_size}")
        if self.batch_within_ms < 1:
            raise ValueError(f"batch_within_s must be at least 0.001, not {self.batch_within_s}")

    @property
    def batch_within_ms(self) -> int:
        """``batch_within_s`` in the whole milliseconds of record timestamps."""
        # round, not int: 1.001 * 1000 is 1000.9999999999999.
        return round(self.batch_within_s * 1000)


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    """What to replay (the CLI fills it from flags)."""

    from_time: datetime | None = None
    from_offset: int | None = None
    to_time: datetime | None = None
    project: str | None = None
    dry_run: bool = False
    #: Read this far before the start so straddling traces and windows are whole.
    warmup_s: float | None = None  # None: ReplayConfig.idle_timeout_s
    block_rows: int = 10_000
    progress_interval_s: float = 2.0
    stall_timeout_s: float = 30.0
