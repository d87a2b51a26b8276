"""Exponential backoff with jitter: how long to wait before the next attempt to reach Kafka.

Pure and synchronous (the caller sleeps); one instance per transport, used by
its loop thread only. The schedule is ``initial_s``, doubling per failed
attempt, never above ``max_s``; each delay is spread by ``±jitter`` so that
many SDK processes restarted together do not reconnect in lockstep.
"""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["Backoff"]


class Backoff:
    """The delays between attempts: ``initial_s * multiplier**n``, capped at ``max_s``.

    Args:
        initial_s: the first delay (before jitter).
        max_s: no delay is ever longer, jitter included.
        multiplier: growth per failed attempt.
        jitter: each delay is drawn uniformly from ``base * (1 ± jitter)``.
        uniform: a source of floats in ``[0, 1)`` (``random.random``; tests pass
            a constant to get the bare schedule).

    Raises:
        ValueError: an argument is out of range.
    """

    def __init__(
        self,
        *,
        initial_s: float,
        max_s: float,
        multiplier: float = 2.0,
        jitter: float = 0.2,
        uniform: Callable[[], float] = random.random,
    ) -> None:
        if not 0 < initial_s <= max_s or multiplier < 1.0 or not 0.0 <= jitter < 1.0:
            raise ValueError("need 0 < initial_s <= max_s, multiplier >= 1, 0 <= jitter < 1")
        self.initial_s = initial_s
        self.max_s = max_s
        self.multiplier = multiplier
        self.jitter = jitter
        self._uniform = uniform
        self._base_s = initial_s
        self.attempts = 0

    def next_s(self) -> float:
        """The delay before the next attempt; each call advances the schedule."""
        base = self._base_s
        # Grown step by step rather than as multiplier**attempts, which overflows
        # a float after ~1000 attempts of a long outage.
        self._base_s = min(base * self.multiplier, self.max_s)
        self.attempts += 1
        spread = base * self.jitter * (2.0 * self._uniform() - 1.0)
        return min(base + spread, self.max_s)

    def reset(self) -> None:
        """Back to ``initial_s``: the broker answered."""
        self._base_s = self.initial_s
        self.attempts = 0
