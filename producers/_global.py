"""The process-wide tracer used by ``@traced`` and ``tracestream.configure()``."""

from __future__ import annotations

import threading

from ._tracer import Tracer

__all__ = ["get_tracer", "set_tracer"]

_lock = threading.Lock()
_tracer: Tracer | None = None
_disabled: Tracer | None = None


def set_tracer(tracer: Tracer | None) -> Tracer | None:
    """Make ``tracer`` the process-wide tracer; returns the previous one (None: unset).

    Does not shut the previous tracer down: its owner decides.
    """
    global _tracer
    with _lock:
        previous, _tracer = _tracer, tracer
    return previous


def get_tracer() -> Tracer:
    """The process-wide tracer; before ``configure``/``set_tracer``, a disabled one
    whose spans record nothing (so decorated code runs untraced, never fails)."""
    global _disabled
    tracer = _tracer
    if tracer is not None:
        return tracer
    with _lock:
        if _disabled is None:
            _disabled = Tracer(
                project="default", service="unconfigured", enabled=False, flush_at_exit=False
            )
        return _disabled
