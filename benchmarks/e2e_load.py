"""Load for ``tracestream bench e2e``: SDK traffic at a steady rate, and a raw producer ramp.

:class:`SdkLoad` is an application thread tracing with the real SDK (the
Kafka transport of ``tracestream.configure``): traces of four spans (a
workflow root, a retrieval, a generation with messages and usage, a tool
call), paced to an average events/s. It hands every ``probe_every``-th trace
id to the freshness poller, and keeps how many spans had ended by when, so
the bench can say how far behind the stored rows are.

:func:`produce_at` writes pre-built span events (``bench pipeline``'s
generator) at a rate with a bare aiokafka producer: the ramp's load, where the
SDK's own thread would be the limit before the pipeline is.
"""

from __future__ import annotations

import asyncio
import bisect
import queue
import threading
import time
from collections.abc import Callable

from aiokafka import AIOKafkaProducer

__all__ = ["SdkLoad", "produce_at"]

_SPANS_PER_TRACE = 4
_QUESTIONS = (
    "Where is my order 4411? It was due on Monday.",
    "Can I change the shipping address of an order that already left the warehouse?",
    "The invoice shows a charge twice; please refund one of them.",
    "How do I reset the password of a team account?",
)


class SdkLoad:
    """A thread emitting traces through the SDK at ``events_per_s`` until :meth:`stop`.

    Args:
        bootstrap: the broker.
        prefix: the topic prefix.
        project: the project of every trace (one per phase, so phases count apart).
        events_per_s: average rate; four events (spans) per trace.
        probe_every: every n-th trace's id goes to :attr:`probes` while
            :attr:`probing` is set.
    """

    def __init__(
        self,
        bootstrap: str,
        prefix: str,
        project: str,
        events_per_s: float,
        *,
        probe_every: int = 5,
    ) -> None:
        import tracestream

        self.tracer = tracestream.configure(
            kafka_bootstrap=bootstrap, topic_prefix=prefix, project=project, service="support-bot"
        )
        self.project = project
        self.probes: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.probing = threading.Event()
        self._rate = events_per_s
        self._probe_every = probe_every
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._ended_at: list[float] = []  # wall clock of each pacing tick
        self._ended: list[int] = []  # spans ended by that tick
        self._thread = threading.Thread(target=self._run, name="sdk-load", daemon=True)

    def start(self) -> SdkLoad:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 30.0) -> dict[str, int]:
        """Stop, flush the SDK within ``timeout_s``; its counters (sent, dropped)."""
        self._stop.set()
        self._thread.join()
        self.tracer.shutdown(timeout_s)
        stats = self.tracer.stats()
        return {"spans_ended": self.spans_ended(), "sent": stats.sent, "dropped": stats.dropped}

    def spans_ended(self, before: float | None = None) -> int:
        """Spans ended so far, or by wall-clock time ``before``."""
        with self._lock:
            if not self._ended:
                return 0
            if before is None:
                return self._ended[-1]
            at = bisect.bisect_right(self._ended_at, before)
            return self._ended[at - 1] if at else 0

    def _run(self) -> None:
        started = time.monotonic()
        traces = 0
        while not self._stop.is_set():
            due = int((time.monotonic() - started) * self._rate / _SPANS_PER_TRACE)
            while traces < due:
                trace_id = self._trace(traces)
                traces += 1
                if self.probing.is_set() and traces % self._probe_every == 0:
                    self.probes.put(trace_id)
            with self._lock:
                self._ended_at.append(time.time())
                self._ended.append(traces * _SPANS_PER_TRACE)
            self._stop.wait(0.005)

    def _trace(self, n: int) -> str:
        tracer = self.tracer
        question = _QUESTIONS[n % len(_QUESTIONS)]
        with tracer.trace("answer", input=question, user_id=f"user-{n % 97}") as root:
            with tracer.retrieval("kb-search", input=question) as search:
                search.record_output([f"doc-{n % 13}", f"doc-{n % 31}"])
            messages = [
                {"role": "system", "content": "You are the support assistant of an online shop."},
                {"role": "user", "content": question},
            ]
            with tracer.generation(model="gpt-4o-mini", provider="openai", input=messages) as gen:
                gen.record_output("Your order is on its way; tracking number 1Z999AA10123456784.")
                gen.record_usage(input_tokens=180 + n % 50, output_tokens=42)
            with tracer.tool("lookup_order", arguments={"order_id": 4411 + n % 1000}) as tool:
                tool.record_output({"status": "shipped", "eta_days": 2})
            root.record_output("Your order is on its way.")
        return root.trace_id


async def produce_at(
    bootstrap: str,
    topic: str,
    records: list[tuple[bytes, bytes]],
    rate: float,
    *,
    on_tick: Callable[[float, int], None] | None = None,
) -> float:
    """Send ``records`` at ``rate`` per second (paced every 50 ms).

    Returns the seconds from the first send to the last (the acknowledgements
    are awaited after, not counted). ``on_tick(elapsed_s, sent)`` is called
    after each slice (the ramp samples the backlog from it).
    """
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=512 * 1024, acks=1
    )
    await producer.start()
    try:
        started = time.monotonic()
        sent = 0
        pending = []
        while sent < len(records):
            elapsed = time.monotonic() - started
            due = min(len(records), int(elapsed * rate) + 1)
            for key, value in records[sent:due]:
                pending.append(await producer.send(topic, value=value, key=key))
            sent = max(sent, due)
            if on_tick is not None:
                on_tick(elapsed, sent)
            await asyncio.sleep(0.05)
        took = time.monotonic() - started
        await asyncio.gather(*pending)
        return took
    finally:
        await producer.stop()
