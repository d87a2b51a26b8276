"""A simulated AI support agent, traced with the SDK: the demo's traffic.

Each ticket is one trace: plan (reasoning) -> knowledge-base search
(retrieval) -> order lookup (tool, sometimes timing out) -> answer
(generation) -> a helpfulness score. User text carries PII on purpose so the
demo shows redaction, and one model is missing from the price table on
purpose so the demo shows an unpriced generation instead of a guess.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from tracestream.producers import Tracer

__all__ = ["MODELS", "WorkloadResult", "run_workload"]

#: (model, provider, relative weight). ``acme-llm-1`` is deliberately unknown to the price table.
MODELS: tuple[tuple[str, str, int], ...] = (
    ("gpt-4o", "openai", 5),
    ("gpt-4o-mini", "openai", 8),
    ("claude-3-5-sonnet-20241022", "anthropic", 4),
    ("acme-llm-1", "acme", 1),
)

_QUESTIONS = (
    "Where is my order {order}? You can reach me at {email} or {phone}.",
    "I was charged twice on card {card} for order {order}, please refund.",
    "Can I change the delivery address of {order}? My email is {email}.",
    "The product from order {order} arrived broken. Call me on {phone}.",
    "How do I reset my password? Account email {email}.",
)
_FIRST = ("alice", "bob", "chen", "dana", "emeka", "fatima", "goran", "hana")


class OrderLookupTimeout(TimeoutError):
    """The simulated order service did not answer in time."""


@dataclass(frozen=True, slots=True)
class WorkloadResult:
    """What the workload emitted, so the demo can check it all arrived."""

    trace_ids: tuple[str, ...]
    spans: int
    scores: int


def _question(rng: random.Random) -> str:
    name = rng.choice(_FIRST)
    return rng.choice(_QUESTIONS).format(
        order=f"ORD-{rng.randint(100000, 999999)}",
        email=f"{name}.{rng.randint(1, 99)}@example.com",
        phone=f"+44 20 7946 {rng.randint(1000, 9999)}",
        card=rng.choice(("4111 1111 1111 1111", "5555 5555 5555 4444")),
    )


def _pause(rng: random.Random, low_ms: float, high_ms: float, *, wait: bool) -> None:
    # The draw happens either way, so the events do not depend on ``wait``.
    delay_s = rng.uniform(low_ms, high_ms) / 1000
    if wait:
        time.sleep(delay_s)


def run_workload(
    tracer: Tracer,
    *,
    traces: int,
    seed: int = 7,
    latency_scale: float = 1.0,
    wait: bool = True,
) -> WorkloadResult:
    """Emit ``traces`` support tickets through ``tracer``.

    Blocks for the simulated latency unless ``wait`` is false (the benchmarks'
    way to get the same events, with the same durations recorded, at once).
    """
    rng = random.Random(seed)
    names = [m for m, _, _ in MODELS]
    weights = [w for _, _, w in MODELS]
    providers = {m: p for m, p, _ in MODELS}
    trace_ids: list[str] = []
    spans = scores = 0
    for n in range(traces):
        question = _question(rng)
        user = f"user-{rng.randint(1, 40)}"
        with tracer.trace(
            "support-ticket",
            input={"question": question},
            session_id=f"session-{n // 3}",
            user_id=user,
            tags=["demo", rng.choice(["web", "mobile"])],
        ) as root:
            trace_ids.append(root.trace_id)
            with tracer.reasoning("plan", input=question) as plan:
                needs_order = "order" in question.lower() or "ORD-" in question
                plan.record_decision(
                    "route",
                    "order-desk" if needs_order else "self-service",
                    reason="mentions an order" if needs_order else "account question",
                )
                _pause(rng, 1, 4 * latency_scale, wait=wait)
            with tracer.retrieval("kb-search", input={"query": question[:60], "k": 3}) as kb:
                kb.record_output(
                    [
                        {"doc": f"kb-{rng.randint(1, 500)}", "score": round(rng.random(), 3)}
                        for _ in range(3)
                    ]
                )
                _pause(rng, 2, 8 * latency_scale, wait=wait)
            spans += 3
            order_found = True
            if needs_order:
                try:
                    with tracer.tool(
                        "lookup_order", arguments={"order": question.split("ORD-")[-1][:6]}
                    ) as tool:
                        _pause(rng, 3, 12 * latency_scale, wait=wait)
                        if rng.random() < 0.15:
                            raise OrderLookupTimeout("order service did not answer within 2s")
                        tool.record_output(
                            {"status": rng.choice(["shipped", "processing", "delivered"])}
                        )
                except OrderLookupTimeout:
                    order_found = False
                spans += 1
            model = rng.choices(names, weights)[0]
            messages = [
                {"role": "system", "content": "You are a concise, friendly support agent."},
                {"role": "user", "content": question},
            ]
            with tracer.generation(
                "answer",
                model=model,
                provider=providers[model],
                params={"temperature": 0.3, "max_tokens": 400},
                input=messages,
            ) as gen:
                _pause(rng, 20, 60 * latency_scale, wait=wait)
                reply = (
                    "Thanks for reaching out! I checked your order and it is on its way."
                    if order_found
                    else "Sorry, I could not reach the order system; a colleague will follow up."
                )
                gen.record_output({"role": "assistant", "content": reply})
                prompt = rng.randint(300, 1800)
                cached = rng.choice([0, 0, 256, 512])
                gen.record_usage(
                    input_tokens=prompt, output_tokens=rng.randint(40, 220), cached_tokens=cached
                )
            spans += 1
            root.record_output({"reply": reply, "resolved": order_found})
            root.record_outcome("resolved" if order_found else "escalated", success=order_found)
        tracer.score(
            root.trace_id,
            "helpfulness",
            round(rng.uniform(0.6, 1.0) if order_found else rng.uniform(0.1, 0.5), 2),
            source="evaluator",
        )
        scores += 1
        spans += 1
    return WorkloadResult(trace_ids=tuple(trace_ids), spans=spans, scores=scores)
