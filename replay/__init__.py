"""tracestream.replay: rebuild the ClickHouse tables from the retained events topic.

The tables are projections of ``tracestream.events``; a replay re-runs the
worker's pure core (``tracestream.streams``) over a range of the topic and swaps
the result into storage (``tracestream.sinks``). It is the one room allowed to
use both, through their public names; the front's ``tracestream replay``
command only fills its options. See :mod:`._engine` for the design.
"""

from ._engine import Progress, ReplayOptions, ReplayReport, build_pipeline, run_replay
from ._plan import PartitionRange, Scope, batch_now_ms, flush_horizon_ms, resolve_ranges
from ._store import ROLES, STAGING_PREFIX

__all__ = [
    "ROLES",
    "STAGING_PREFIX",
    "PartitionRange",
    "Progress",
    "ReplayOptions",
    "ReplayReport",
    "Scope",
    "batch_now_ms",
    "build_pipeline",
    "flush_horizon_ms",
    "resolve_ranges",
    "run_replay",
]
