"""A simulated AI support agent, traced with the SDK: the demo's traffic.

Each ticket is one trace, a ``support-ticket`` workflow around a nested
``support-agent``:

- plan (reasoning) around a planning model call (``o3-mini``, reasoning
  tokens; hard tickets reason several times longer) that records the
  ``route`` decision;
- kb-search (retrieval) returning items with ids (``kb-N``), sometimes none;
- lookup_order (tool) for tickets about an order; it times out now and
  then, far more often when asked for the order history, and is retried
  once after a timeout;
- issue_refund (tool) for double charges once the order is found;
- answer (generation) on one of :data:`MODELS`, offered the tool
  definitions (``escalate_to_human`` is offered and never called), citing
  some of the retrieved item ids, with cached prompt tokens on the models
  that cache (never on ``acme-llm-1``);
- an outcome on the root, and a helpfulness score.

So every feedback report has a real finding: tool failures and retries and
the argument that goes with them, the critical path and skipped or repeated
steps, empty retrievals and unused items, prompt caching per model, long
reasoning that ended badly, decisions, and good and bad example cases.

A run may also carry :class:`~tracestream.demo.Incidents`: a retrieval that
slows down and a planner whose cost jumps part-way, for the anomaly detector
to find; and several agents may handle tickets at once.

User text carries PII on purpose so the demo shows redaction, and one model
is missing from the price table on purpose so the demo shows an unpriced
generation instead of a guess.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from tracestream.producers import Tracer

from ._incidents import NO_INCIDENTS, Incidents

__all__ = ["MODELS", "WorkloadResult", "run_workload"]

#: (model, provider, relative weight). ``acme-llm-1`` is deliberately unknown to the price table.
MODELS: tuple[tuple[str, str, int], ...] = (
    ("gpt-4o", "openai", 5),
    ("gpt-4o-mini", "openai", 8),
    ("claude-3-5-sonnet-20241022", "anthropic", 4),
    ("acme-llm-1", "acme", 1),
)
#: The planning model (a reasoning model: its usage has reasoning tokens).
PLANNER = ("o3-mini", "openai")
_PROVIDERS = {model: provider for model, provider, _ in MODELS}

# (template, hard): hard tickets make the planner reason longer and ask for
# the order history more often, which is what makes the lookup time out.
_QUESTIONS = (
    ("Where is my order {order}? You can reach me at {email} or {phone}.", False),
    ("I was charged twice on card {card} for order {order}, please refund.", True),
    ("Can I change the delivery address of {order}? My email is {email}.", False),
    ("The product from order {order} arrived broken. Call me on {phone}.", True),
    ("How do I reset my password? Account email {email}.", False),
)
_FIRST = ("alice", "bob", "chen", "dana", "emeka", "fatima", "goran", "hana")
# The answer model's tool definitions (OpenAI request shape).
_TOOLS = [
    {"type": "function", "function": {"name": name}}
    for name in ("lookup_order", "issue_refund", "escalate_to_human")
]


class OrderLookupTimeout(TimeoutError):
    """The simulated order service did not answer in time."""


@dataclass(frozen=True, slots=True)
class WorkloadResult:
    """What the workload emitted, so the demo can check it all arrived."""

    trace_ids: tuple[str, ...]
    spans: int
    scores: int


def _question(rng: random.Random) -> tuple[str, bool]:
    name = rng.choice(_FIRST)
    template, hard = rng.choice(_QUESTIONS)
    text = template.format(
        order=f"ORD-{rng.randint(100000, 999999)}",
        email=f"{name}.{rng.randint(1, 99)}@example.com",
        phone=f"+44 20 7946 {rng.randint(1000, 9999)}",
        card=rng.choice(("4111 1111 1111 1111", "5555 5555 5555 4444")),
    )
    return text, hard


def _pause(rng: random.Random, low_ms: float, high_ms: float, *, wait: bool) -> None:
    # The draw happens either way, so the events do not depend on ``wait``.
    delay_s = rng.uniform(low_ms, high_ms) / 1000
    if wait:
        time.sleep(delay_s)


def _lookup_order(
    tracer: Tracer, rng: random.Random, question: str, hard: bool, *, wait: bool
) -> tuple[bool, int]:
    """Look the order up, retrying once after a timeout; (found, tool spans emitted)."""
    arguments: dict[str, object] = {"order": question.split("ORD-")[-1][:6]}
    if rng.random() < (0.6 if hard else 0.2):
        arguments["include_history"] = True
    fail_p = 0.5 if "include_history" in arguments else 0.08
    for attempt in (1, 2):
        try:
            with tracer.tool("lookup_order", arguments=arguments) as tool:
                _pause(rng, 3, 12 * (3 if "include_history" in arguments else 1), wait=wait)
                if rng.random() < fail_p:
                    raise OrderLookupTimeout("order service did not answer within 2s")
                tool.record_output({"status": rng.choice(["shipped", "processing", "delivered"])})
            return True, attempt
        except OrderLookupTimeout:
            _pause(rng, 2, 6, wait=wait)  # back off before the retry
    return False, 2


def run_workload(
    tracer: Tracer,
    *,
    traces: int,
    seed: int = 7,
    latency_scale: float = 1.0,
    wait: bool = True,
    incidents: Incidents = NO_INCIDENTS,
    agents: int = 1,
    on_ticket: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
) -> WorkloadResult:
    """Emit ``traces`` support tickets through ``tracer``.

    Blocks for the simulated latency unless ``wait`` is false (the benchmarks'
    way to get the same events at once; the recorded durations are then the
    code's own, without the simulated waits).

    Args:
        incidents: trouble injected part-way (none by default).
        agents: tickets handled at once, each agent on its own thread with its
            own random stream (agent 0's is ``seed``: one agent gives the same
            events as before agents existed). Ticket ``n`` goes to agent
            ``n % agents``, so incidents hit every agent at about the same time.
        on_ticket: called with each finished ticket's trace id, from the agent's
            thread; it must be quick and must not raise.
        stop: once set, agents take no new ticket (the result's ids of the
            tickets never handled are empty strings).

    Raises:
        ValueError: ``agents`` is below 1.
    """
    if agents < 1:
        raise ValueError("agents must be at least 1")
    trace_ids: list[str] = [""] * traces
    spans = [0] * agents

    def agent(index: int) -> None:
        rng = random.Random(seed + _AGENT_SEED_STRIDE * index)
        for n in range(index, traces, agents):
            if stop is not None and stop.is_set():
                return
            ticket = _Ticket(n, traces, incidents, latency_scale, wait)
            trace_ids[n], emitted = _handle(tracer, rng, ticket)
            spans[index] += emitted
            if on_ticket is not None:
                on_ticket(trace_ids[n])

    if agents == 1:
        agent(0)
    else:
        with ThreadPoolExecutor(agents, thread_name_prefix="demo-agent") as pool:
            for done in [pool.submit(agent, i) for i in range(agents)]:
                done.result()  # re-raises an agent's error here
    return WorkloadResult(trace_ids=tuple(trace_ids), spans=sum(spans), scores=traces)


# Far apart, so agent i of one seed never replays agent j of a nearby seed.
_AGENT_SEED_STRIDE = 1_000_003


@dataclass(frozen=True, slots=True)
class _Ticket:
    number: int
    of: int
    incidents: Incidents
    latency_scale: float
    wait: bool


def _handle(tracer: Tracer, rng: random.Random, t: _Ticket) -> tuple[str, int]:
    """Trace one ticket; (its trace id, spans emitted)."""
    wait = t.wait
    latency_scale = t.latency_scale
    question, hard = _question(rng)
    user = f"user-{rng.randint(1, 40)}"
    with tracer.trace(
        "support-ticket",
        input={"question": question},
        session_id=f"session-{t.number // 3}",
        user_id=user,
        tags=["demo", rng.choice(["web", "mobile"])],
    ) as root:
        with tracer.agent("support-agent", input={"question": question}):
            needs_order = "ORD-" in question
            _plan(tracer, rng, question, hard, t)
            delay = t.incidents.retrieval_delay(t.number, t.of)
            with tracer.retrieval("kb-search", input={"query": question[:60], "k": 3}) as kb:
                # Account questions often find nothing in the order-centric KB.
                empty = rng.random() < (0.05 if needs_order else 0.5)
                items = [] if empty else [
                    {"id": f"kb-{rng.randint(1, 500)}", "score": round(rng.random(), 3)}
                    for _ in range(3)
                ]  # fmt: skip
                kb.record_output(items)
                _pause(rng, 2 + delay, 8 * latency_scale + delay, wait=wait)
            spans = 5  # root, agent, plan, plan-llm, kb-search
            order_found: bool | None = None
            if needs_order:
                order_found, calls = _lookup_order(tracer, rng, question, hard, wait=wait)
                spans += calls
                if order_found and "charged twice" in question:
                    with tracer.tool(
                        "issue_refund", arguments={"order": question.split("ORD-")[-1][:6]}
                    ) as refund:
                        _pause(rng, 3, 8 * latency_scale, wait=wait)
                        refund.record_output({"refunded": True})
                    spans += 1
            _pause(rng, 0, 15 * latency_scale, wait=wait)  # waiting for a model slot
            reply = _answer(tracer, rng, question, items, order_found, t)
            spans += 1
        resolved = order_found is not False
        root.record_output({"reply": reply, "resolved": resolved})
        root.record_outcome("resolved" if resolved else "escalated", success=resolved)
    tracer.score(
        root.trace_id,
        "helpfulness",
        round(rng.uniform(0.6, 1.0) if resolved else rng.uniform(0.1, 0.5), 2),
        source="evaluator",
    )
    return root.trace_id, spans


def _plan(tracer: Tracer, rng: random.Random, question: str, hard: bool, t: _Ticket) -> None:
    """The reasoning step around the planner call, with its ``route`` decision."""
    needs_order = "ORD-" in question
    growth = t.incidents.reasoning_factor(t.number, t.of)
    with tracer.reasoning("plan", input=question) as plan:
        with tracer.generation(
            "plan-llm",
            model=PLANNER[0],
            provider=PLANNER[1],
            # Only the incident sets it, so the trace shows what changed.
            params={"reasoning_effort": "high"} if growth > 1 else None,
            input=[{"role": "user", "content": f"Plan the reply to: {question}"}],
        ) as planner:
            _pause(rng, 5, 15 * t.latency_scale * (3 if hard else 1), wait=t.wait)
            planner.record_output({"role": "assistant", "content": "1. look up 2. reply"})
            input_tokens = rng.randint(150, 300)
            output_tokens = rng.randint(20, 60)
            reasoning = rng.randint(2500, 6000) if hard else rng.randint(200, 900)
            planner.record_usage(
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                reasoning_tokens=round(reasoning * growth),
            )
        plan.record_decision(
            "route",
            "order-desk" if needs_order else "self-service",
            reason="mentions an order" if needs_order else "account question",
        )


def _answer(
    tracer: Tracer,
    rng: random.Random,
    question: str,
    items: list[dict[str, object]],
    order_found: bool | None,
    t: _Ticket,
) -> str:
    """The answer generation on one of :data:`MODELS`; returns the reply."""
    names = [m for m, _, _ in MODELS]
    weights = [w for _, _, w in MODELS]
    model = rng.choices(names, weights)[0]
    messages = [
        {"role": "system", "content": "You are a concise, friendly support agent."},
        {"role": "user", "content": question},
        {"role": "system", "content": "Knowledge base: " + ", ".join(
            str(i["id"]) for i in items)},
    ]  # fmt: skip
    with tracer.generation(
        "answer",
        model=model,
        provider=_PROVIDERS[model],
        params={"temperature": 0.3, "max_tokens": 400, "tools": _TOOLS},
        input=messages,
    ) as gen:
        _pause(rng, 20, 60 * t.latency_scale, wait=t.wait)
        cited = [str(i["id"]) for i in items[: rng.randint(0, len(items))]]
        reply = (
            "Sorry, I could not reach the order system; a colleague will follow up."
            if order_found is False
            else "Thanks for reaching out! Here is what I found."
        )
        if cited:
            reply += " (see " + ", ".join(cited) + ")"
        gen.record_output({"role": "assistant", "content": reply})
        prompt = rng.randint(300, 1800)
        cached = 0 if model == "acme-llm-1" else rng.choice([0, 256, 512, 1024])
        gen.record_usage(
            input_tokens=prompt,
            output_tokens=rng.randint(40, 220),
            cached_tokens=cached,
        )
    return reply
