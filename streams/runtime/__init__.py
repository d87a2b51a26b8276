"""tracestream.streams.runtime: the worker runtimes, thin adapters over one publish path.

The pure core (``tracestream.streams``) knows nothing of Kafka; this package
moves its batches in and out:

- :class:`KafkaWorker` (the default): a plain aiokafka consumer loop with its
  own changelogs;
- :class:`WorkerApp`: the same on Faust (agents, timers, Faust tables);
- :class:`Publisher`: what both do with a batch's output (send, retry with
  backoff until acknowledged, observe in the metrics), written once;
- :func:`tune_gc`: the garbage-collector tuning of every long-running entry point.

The Faust names are imported on first use: importing faust costs ~0.3 s and
~20 MB of memory, which the default runtime and ``tracestream sink`` (which
calls :func:`tune_gc`) do not pay. ``tracestream.streams`` never imports this
package, so the pure core stays free of both clients.
"""

from __future__ import annotations

# Modules, not names: the package's public surface is its __all__ only.
import importlib
import typing

from ._changelog_topics import KafkaRuntimeError
from ._config import RuntimeConfig
from ._heap import HeapKeeper, tune_gc
from ._kafka import KafkaWorker, KafkaWorkerConfig
from ._publisher import Backoff, Publisher
from ._transport import Message, Transport

if typing.TYPE_CHECKING:
    from ._faust import WorkerApp, WorkerConfig

__all__ = [
    "Backoff",
    "HeapKeeper",
    "KafkaRuntimeError",
    "KafkaWorker",
    "KafkaWorkerConfig",
    "Message",
    "Publisher",
    "RuntimeConfig",
    "Transport",
    "WorkerApp",
    "WorkerConfig",
    "tune_gc",
]

_FAUST_NAMES = frozenset({"WorkerApp", "WorkerConfig"})


def __getattr__(name: str) -> typing.Any:
    if name in _FAUST_NAMES:
        value = getattr(importlib.import_module("._faust", __name__), name)
        globals()[name] = value  # once: later lookups do not come back here
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _FAUST_NAMES)
