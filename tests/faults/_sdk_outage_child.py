"""A host application for the broker-outage fault test: the SDK, no logging configured.

Run as ``python -m tests.faults._sdk_outage_child BOOTSTRAP PREFIX RATE MAX_BUFFER_EVENTS
REQUEST_TIMEOUT_MS``.
It calls ``tracestream.configure`` and nothing else of ``logging`` (so whatever
reaches its stderr is what a host that configured nothing would see), then
emits one span per ``1/RATE`` seconds, each carrying its sequence number.

Commands, one per line on stdin; each answer is one JSON line on stdout:

- ``mark``: ``{"thread_cpu_s", "process_cpu_s", "emitted", "stats"}`` now, where
  ``thread_cpu_s`` is the CPU time of the SDK's ``tracestream-kafka`` thread
  (read from ``/proc``, so the SDK needs no hook for it);
- ``stop``: stop emitting, ``tracer.shutdown``, answer like ``mark`` and exit.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
import time
from typing import Any

import orjson

import tracestream

SDK_THREAD = "tracestream-kafka"


def thread_cpu_s(name: str) -> float:
    """CPU seconds (user + system) of this process's thread called ``name``."""
    for thread in threading.enumerate():
        if thread.name == name and thread.native_id is not None:
            with open(f"/proc/self/task/{thread.native_id}/stat") as stat:
                fields = stat.read().rpartition(")")[2].split()
            # utime and stime are fields 14 and 15 of stat(5), counted after the ")" from 3.
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return -1.0


def snapshot(tracer: Any, emitted: int, sdk_cpu_s: float | None = None) -> bytes:
    stats = dataclasses.asdict(tracer.stats())
    return orjson.dumps(
        {
            "thread_cpu_s": thread_cpu_s(SDK_THREAD) if sdk_cpu_s is None else sdk_cpu_s,
            "process_cpu_s": time.process_time(),
            "emitted": emitted,
            "stats": stats,
        }
    )


def main(
    bootstrap: str, prefix: str, rate: float, max_buffer_events: int, request_timeout_ms: int
) -> None:
    tracer = tracestream.configure(
        kafka_bootstrap=bootstrap,
        topic_prefix=prefix,
        project="faults",
        service="outage-host",
        sdk_max_buffer_events=max_buffer_events,
        sdk_request_timeout_ms=request_timeout_ms,
    )
    stop = threading.Event()
    emitted = 0
    lock = threading.Lock()

    def emit() -> None:
        nonlocal emitted
        period = 1.0 / rate
        due = time.monotonic()
        while not stop.is_set():
            with tracer.span("work", kind="step", input={"seq": emitted}) as span:
                span.record_output("done")
            with lock:
                emitted += 1
            due += period
            time.sleep(max(0.0, due - time.monotonic()))

    emitter = threading.Thread(target=emit, name="host-emitter")
    emitter.start()
    out = sys.stdout.buffer
    for line in sys.stdin:
        command = line.strip()
        if command == "mark":
            with lock:
                answer = snapshot(tracer, emitted)
        elif command == "stop":
            stop.set()
            emitter.join()
            # The SDK thread's CPU is read before shutdown ends it.
            sdk_cpu_s = thread_cpu_s(SDK_THREAD)
            tracer.shutdown(10.0)
            answer = snapshot(tracer, emitted, sdk_cpu_s)
        else:
            answer = orjson.dumps({"error": f"unknown command {command!r}"})
        out.write(answer + b"\n")
        out.flush()
        if command == "stop":
            return


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
