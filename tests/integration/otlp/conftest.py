"""The receiver in-process on a free port, producing to the real broker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tracestream._worker_process import free_port
from tracestream.producers.otlp import ReceiverConfig, build_server
from tracestream.schemas import Topics


async def start_receiver(
    bootstrap: str,
    topics: Topics,
    config: ReceiverConfig | None = None,
    *,
    grpc_port: int | None = None,
) -> tuple[Any, asyncio.Task[None], str]:
    """A started receiver (uvicorn server, its serving task, its /v1/traces URL)."""
    port = free_port()
    server = build_server(config or ReceiverConfig(project="p"), host="127.0.0.1", port=port,
                          bootstrap_servers=bootstrap, topics=topics, grpc_port=grpc_port)  # fmt: skip
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # raises why it did not start
        await asyncio.sleep(0.02)
    return server, task, f"http://127.0.0.1:{port}/v1/traces"


async def stop_receiver(server: Any, task: asyncio.Task[None]) -> None:
    server.should_exit = True
    await asyncio.wait_for(task, 30)


@pytest.fixture
async def receiver(kafka_bootstrap: str, kafka_topics: Topics) -> AsyncIterator[str]:
    """URL of a receiver connected to the broker, writing to the test's topics."""
    server, task, url = await start_receiver(kafka_bootstrap, kafka_topics)
    try:
        assert await server.sink.wait_connected(60), "the receiver did not connect to Kafka"
        yield url
    finally:
        await stop_receiver(server, task)
