"""The demo workload's incidents and agents: where they act, and what they leave alone."""

from __future__ import annotations

import io
from collections import Counter
from typing import Any

import orjson
import pytest

from tracestream.cli._demo_output import ProgressLine
from tracestream.demo import DEMO_INCIDENTS, NO_INCIDENTS, Incidents, run_workload
from tracestream.producers import InMemoryTransport, Tracer


def _events(**kwargs: Any) -> list[dict[str, Any]]:
    transport = InMemoryTransport()
    tracer = Tracer(project="demo", service="s", transport=transport, flush_at_exit=False)
    run_workload(tracer, traces=40, wait=False, **kwargs)
    return [orjson.loads(value) for _, value in transport.records]


def _planner_reasoning(events: list[dict[str, Any]]) -> list[int]:
    return [e["usage"]["reasoning_tokens"] for e in events if e.get("name") == "plan-llm"]


def test_costly_planning_multiplies_reasoning_only_within_its_span() -> None:
    calm = _planner_reasoning(_events())
    spiked = _planner_reasoning(_events(incidents=Incidents(costly_planning=(0.5, 0.75))))
    assert len(calm) == len(spiked) == 40
    for n, (before, after) in enumerate(zip(calm, spiked, strict=True)):
        assert after == (before * 10 if 20 <= n < 30 else before), n


def test_slow_retrieval_delays_every_other_search_within_its_span() -> None:
    slow = Incidents(slow_retrieval=(0.25, 0.5), retrieval_delay_ms=150.0)
    delays = [slow.retrieval_delay(n, 40) for n in range(40)]
    assert [n for n, d in enumerate(delays) if d] == [10, 12, 14, 16, 18]
    assert set(delays) == {0.0, 150.0}
    assert NO_INCIDENTS.retrieval_delay(10, 40) == 0.0


def test_incidents_leave_the_random_draws_alone() -> None:
    calm, demo = _events(), _events(incidents=DEMO_INCIDENTS)
    assert [e.get("input") for e in calm] == [e.get("input") for e in demo]


def test_agents_split_the_tickets_and_one_agent_is_the_plain_run() -> None:
    one = _events(agents=1)
    four = _events(agents=4)
    assert [e.get("input") for e in one] == [e.get("input") for e in _events()]
    questions = [_questions(one), _questions(four)]
    assert len(questions[1]) == 40 and Counter(e["event_type"] for e in four)["score"] == 40
    # Agent 0 replays the plain run's stream: its first ticket asks the same question.
    assert questions[0][0] in questions[1]
    assert questions[0] != questions[1]


def _questions(events: list[dict[str, Any]]) -> list[str]:
    return [
        e["input"]["question"]
        for e in events
        if e.get("name") == "support-ticket" and "parent_span_id" not in e
    ]


@pytest.mark.parametrize("span", [(0.5, 0.5), (-0.1, 0.2), (0.2, 1.1)])
def test_an_incident_span_must_be_a_forward_fraction(span: tuple[float, float]) -> None:
    with pytest.raises(ValueError, match="incident span"):
        Incidents(slow_retrieval=span)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line_rewrites_in_place_on_a_terminal() -> None:
    out = _Terminal()
    line = ProgressLine(out, tty=True)
    line.update("tickets 1/2")
    line.update("tickets 2/2")
    line.finish()
    assert out.getvalue() == "\r    tickets 1/2\x1b[K\r    tickets 2/2\x1b[K\n"


def test_progress_line_prints_plain_lines_at_most_every_period_and_the_last_state() -> None:
    out = io.StringIO()
    line = ProgressLine(out, tty=False, every_s=3600)
    for n in range(5):
        line.update(f"tickets {n}/4")
    line.finish()
    assert out.getvalue() == "    tickets 0/4\n    tickets 4/4\n"
