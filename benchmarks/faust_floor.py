"""The Faust floor of ``tracestream bench pipeline``: consume a topic with Faust, do nothing.

``python -m benchmarks.faust_floor BOOTSTRAP TOPIC COUNT OUT`` runs a
Faust app configured like the worker (same consumer and stream settings, same
``take_events`` batching) whose agent only counts, and writes
``{"events_per_s": ...}`` to ``OUT`` once ``COUNT`` events arrived (from the
first batch to the last, start-up excluded), then exits. Whatever the worker
does per event costs on top of this: it is the ceiling of any agent built on
Faust's stream machinery on this machine.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import faust
import orjson

__all__ = ["main"]


def main(bootstrap: str, topic: str, count: int, out: Path, batch_size: int = 2000) -> None:
    """Run until ``count`` events were consumed; write the rate to ``out``; exit the process."""
    app: Any = faust.App(
        f"bench-faust-floor-{uuid.uuid4().hex[:8]}",
        broker=";".join(f"kafka://{s.strip()}" for s in bootstrap.split(",")),
        store="memory://",
        datadir=tempfile.mkdtemp(prefix="tracestream-faust-floor-"),
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=False,
        autodiscover=False,
        stream_buffer_maxsize=max(4096, batch_size * 2),
        broker_max_poll_records=max(500, batch_size),
        consumer_auto_offset_reset="earliest",
        processing_guarantee="at_least_once",
    )
    source = app.topic(topic, key_type=bytes, value_type=bytes)
    seen = {"n": 0, "first_n": 0}
    started: list[float] = []

    async def count_only(stream: Any) -> None:
        logging.getLogger("aiokafka").setLevel(logging.INFO)
        async for events in stream.take_events(batch_size, within=0.2):
            if not started:
                started.append(time.perf_counter())
                seen["first_n"] = len(events)
            seen["n"] += len(events)
            if seen["n"] >= count:
                seconds = time.perf_counter() - started[0]
                rate = (seen["n"] - seen["first_n"]) / seconds if seconds > 0 else float("nan")
                out.write_bytes(orjson.dumps({"events_per_s": rate}))  # noqa: ASYNC240 - last act
                os._exit(0)  # the measurement is done; a clean Faust shutdown adds nothing

    app.agent(source, name="bench-faust-floor")(count_only)
    faust.Worker(app, loglevel="warning").execute_from_commandline()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]))
