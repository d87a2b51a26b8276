"""Trouble injected part-way through a workload run, so the anomaly detector has work.

Each incident is a span of the run, given as fractions of its tickets
(``(0.6, 0.8)``: from the ticket at 60 % to the one at 80 %). They change
magnitudes only, never the random draws, so a run with incidents differs from
one without exactly where an incident is active.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEMO_INCIDENTS", "NO_INCIDENTS", "Incidents"]

Span = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Incidents:
    """What goes wrong, and when.

    Attributes:
        slow_retrieval: the knowledge base's index is being rebuilt: every
            other search (even ticket numbers, no random draw) takes
            ``retrieval_delay_ms`` longer, a latency regression of the
            ``kb-search`` retrieval's p95. Only half, so the agents keep up
            enough traffic for every window to be scored.
        retrieval_delay_ms: the extra latency of a slow search.
        costly_planning: a configuration change sets the planner's
            ``reasoning_effort`` to high: its reasoning tokens grow
            ``reasoning_growth`` times (a cost spike of ``plan-llm``).
        reasoning_growth: the factor on the planner's reasoning tokens.
    """

    slow_retrieval: Span | None = None
    retrieval_delay_ms: float = 150.0
    costly_planning: Span | None = None
    reasoning_growth: float = 10.0

    def __post_init__(self) -> None:
        for span in (self.slow_retrieval, self.costly_planning):
            if span is not None and not 0.0 <= span[0] < span[1] <= 1.0:
                raise ValueError(f"an incident span needs 0 <= start < end <= 1, got {span}")
        if self.retrieval_delay_ms < 0.0 or self.reasoning_growth < 1.0:
            raise ValueError("need retrieval_delay_ms >= 0 and reasoning_growth >= 1")

    def retrieval_delay(self, ticket: int, tickets: int) -> float:
        """Extra milliseconds of the retrieval for ticket number ``ticket`` of ``tickets``."""
        slow = ticket % 2 == 0 and _within(self.slow_retrieval, ticket, tickets)
        return self.retrieval_delay_ms if slow else 0.0

    def reasoning_factor(self, ticket: int, tickets: int) -> float:
        """The growth of the planner's reasoning tokens for ticket number ``ticket``."""
        return self.reasoning_growth if _within(self.costly_planning, ticket, tickets) else 1.0


def _within(span: Span | None, ticket: int, tickets: int) -> bool:
    return span is not None and span[0] <= ticket / max(1, tickets) < span[1]


#: A calm run.
NO_INCIDENTS = Incidents()
#: The demo's story: a baseline first, then the knowledge base slows down, then
#: the planner's cost jumps; both recover before the end.
DEMO_INCIDENTS = Incidents(slow_retrieval=(0.5, 0.68), costly_planning=(0.75, 0.92))
