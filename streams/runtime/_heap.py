"""Keep the garbage collector off long-lived state: the one place the GC is tuned.

:func:`tune_gc` is what every long-running entry point (``tracestream
worker``, ``tracestream sink``, the benchmarks that stand for them) calls
once after start-up; :class:`HeapKeeper` is the worker's policy per batch.

Assembly holds every open trace's events: hundreds of thousands of objects
that live for seconds to minutes. CPython's collector walks each survivor
again in every young and middle collection it stays in; measured on the
pipeline bench that was 11 to 20 µs per event, a sixth of the worker's CPU. The
state holds no reference cycles (it is freed by reference counting when a
trace is dropped), so the worker moves each batch's survivors into the
permanent generation (:func:`gc.freeze`) where the collector never looks.

What that gives up: cyclic garbage made during a batch (asyncio and client
internals make a little) is frozen with the survivors and not collected. So
every ``full_collect_s`` the permanent generation is thawed and one full
collection runs (a pause of well under a second for a big heap), bounding what
can pile up. ``full_collect_s=0`` turns the policy off (CPython's own GC).
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable

__all__ = ["GC_THRESHOLDS", "HeapKeeper", "tune_gc"]

_log = logging.getLogger(__name__)

#: A young collection every 50,000 net allocations, a middle one every 50 young
#: ones, a full one every 100 middle ones (CPython's default: 700, 10, 10).
#: Measured: the default cost the worker ~30 us/event (bench core) and the sink
#: ~0.05 s of CPU per 100k spans, walking the same long-lived objects again.
GC_THRESHOLDS = (50_000, 50, 100)


def tune_gc() -> tuple[int, int, int]:
    """Move what start-up allocated out of the collector's view; collect young objects less often.

    Call once, after start-up and before the first batch. Returns the previous
    thresholds, for callers that restore them (benchmarks running in-process).
    """
    previous = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    return previous


class HeapKeeper:
    """Call :meth:`after_batch` once a batch's output is published.

    Args:
        full_collect_s: seconds between full collections; 0: leave the collector alone.
        clock: monotonic seconds (a parameter so tests can drive it).
    """

    def __init__(self, full_collect_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.full_collect_s = full_collect_s
        self._clock = clock
        self._next_full = clock() + full_collect_s
        #: Full collections run and the objects they freed (for logs and tests).
        self.full_collections = 0
        self.collected = 0

    def after_batch(self) -> None:
        """Freeze what the batch left alive; thaw and collect everything when due."""
        if self.full_collect_s <= 0:
            return
        now = self._clock()
        if now >= self._next_full:
            started = time.perf_counter()
            gc.unfreeze()
            freed = gc.collect()
            self.full_collections += 1
            self.collected += freed
            self._next_full = now + self.full_collect_s
            _log.debug(
                "full collection: %d objects freed in %.0f ms",
                freed,
                (time.perf_counter() - started) * 1000,
            )
        gc.freeze()
