"""tracestream.replay: rebuild the ClickHouse tables from the retained events topic.

The tables are projections of ``tracestream.events``; a replay re-runs the
worker's pure core (``tracestream.streams``) over a range of the topic and swaps
the result into storage (``tracestream.sinks``). It is the one room allowed to
use both, through their public names. It reads no settings: the front's
``tracestream replay`` command fills a :class:`ReplayConfig` from its settings,
the :class:`ReplayOptions` from its flags, and passes a factory of the worker's
pipeline. See :mod:`._engine` for the design.
"""

from ._config import ReplayConfig, ReplayOptions
from ._engine import Progress, ReplayReport, run_replay
from ._plan import PartitionRange, Scope, batch_now_ms, flush_horizon_ms, resolve_ranges
from ._store import ROLES, STAGING_PREFIX

__all__ = [
    "ROLES",
    "STAGING_PREFIX",
    "PartitionRange",
    "Progress",
    "ReplayConfig",
    "ReplayOptions",
    "ReplayReport",
    "Scope",
    "batch_now_ms",
    "flush_horizon_ms",
    "resolve_ranges",
    "run_replay",
]
