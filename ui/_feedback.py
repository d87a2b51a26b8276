"""Scores added from the trace page travel as ``score`` events through Kafka.

The explorer never writes to ClickHouse: a person's judgement becomes a
:class:`~tracestream.schemas.ScoreEvent` on the events topic, as the SDK's
``tracer.score`` would send it, so the log stays the source of truth and the
worker validates, and the sink stores, it like any other event. The record
follows the SDK's Kafka conventions (producers/_kafka.py): JSON value, key =
trace id (every event of a trace on one partition), the ``content-type`` and
``schema-version`` headers, ``acks="all"`` with the idempotent producer.
The SDK itself is not used: it is built never to block or raise, while here
the person clicking needs to know whether the score was accepted.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Literal, Protocol

import uuid6
from pydantic import BaseModel, ConfigDict, Field

from tracestream.schemas import SCHEMA_VERSION, ScoreEvent, TracestreamError

__all__ = [
    "KafkaScoreSender",
    "ScoreRequest",
    "ScoreSender",
    "ScoreUnavailable",
    "build_score_event",
    "parse_score_request",
]

#: The ``service`` of score events made in the explorer.
UI_SERVICE = "tracestream-ui"
HEADERS: list[tuple[str, bytes]] = [
    ("content-type", b"application/json"),
    ("schema-version", str(SCHEMA_VERSION).encode()),
]


class ScoreUnavailable(TracestreamError):
    """The score could not be handed to Kafka (HTTP 503); the person may retry."""

    retriable = True


class ScoreRequest(BaseModel):
    """What the trace page posts: a judgement on a trace, or on one of its spans."""

    model_config = ConfigDict(extra="forbid")

    trace_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    span_id: str | None = Field(None, pattern=r"^[0-9a-f]{16}$")
    name: str = Field(min_length=1, max_length=256)
    value: bool | float | str
    comment: str | None = Field(None, max_length=65_536)
    kind: Literal["thumbs", "number", "label"] | None = None


def build_score_event(
    request: ScoreRequest, *, project: str, environment: str, now: datetime
) -> ScoreEvent:
    """The contract's ScoreEvent for a request on a stored trace. Pure but for the new id.

    The tenant (project, environment) comes from the stored trace, never from
    the request, so a score cannot be filed under another project.

    Raises:
        ValidationError: the contract refuses the value (NaN, an empty label...).
    """
    return ScoreEvent(
        schema_version=SCHEMA_VERSION,
        event_id=str(uuid6.uuid7()),
        event_type="score",
        project=project,
        service=UI_SERVICE,
        environment=environment,
        trace_id=request.trace_id,
        span_id=request.span_id,
        timestamp=now,
        name=request.name,
        value=request.value,
        source="human",
        comment=request.comment or None,
    )


class ScoreSender(Protocol):
    """Where accepted scores go. ``send`` returns once the broker acknowledged."""

    async def send(self, event: ScoreEvent) -> None:
        """Deliver one event. Raises ScoreUnavailable when it could not."""
        ...

    async def close(self) -> None:
        """Release the connection. Idempotent."""
        ...


class KafkaScoreSender:
    """Produce score events to the events topic with aiokafka.

    Args:
        bootstrap_servers: ``host:port[,...]`` of the cluster.
        topic: the events topic (``Topics(prefix).events``).
        timeout_s: how long one send may wait for the broker before it fails.

    The producer starts on the first score (a UI that is only read needs no
    broker) and is reused after; ``close`` stops it. Call from one event loop.
    """

    def __init__(self, *, bootstrap_servers: str, topic: str, timeout_s: float = 10.0) -> None:
        self._bootstrap = bootstrap_servers
        self._topic = topic
        self._timeout_s = timeout_s
        self._producer: Any = None
        self._lock = asyncio.Lock()

    async def _started(self) -> Any:
        from aiokafka import AIOKafkaProducer

        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self._bootstrap,
                    acks="all",
                    enable_idempotence=True,
                    client_id="tracestream-ui",
                    request_timeout_ms=int(self._timeout_s * 1000),
                )
                try:
                    await asyncio.wait_for(producer.start(), self._timeout_s)
                except Exception as exc:  # noqa: BLE001 - any start failure: broker unreachable
                    await producer.stop()
                    raise ScoreUnavailable(f"Kafka at {self._bootstrap}: {exc}") from None
                self._producer = producer
            return self._producer

    async def send(self, event: ScoreEvent) -> None:
        """Produce and wait for the acknowledgement. Raises ScoreUnavailable."""
        producer = await self._started()
        value = event.model_dump_json(exclude_none=True).encode()
        try:
            await asyncio.wait_for(
                producer.send_and_wait(
                    self._topic, value, key=event.trace_id.encode(), headers=HEADERS
                ),
                self._timeout_s,
            )
        except Exception as exc:  # noqa: BLE001 - any send failure is "not delivered"
            raise ScoreUnavailable(f"score not delivered to {self._topic}: {exc}") from None

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()


def parse_score_request(body: Any) -> ScoreRequest:
    """Validate a posted JSON body; a thumbs score must be a boolean.

    Raises:
        ValueError: the body does not match :class:`ScoreRequest` (pydantic's
            ValidationError is one) or the value does not fit its kind.
    """
    request = ScoreRequest.model_validate(body)
    if request.kind == "thumbs" and not isinstance(request.value, bool):
        raise ValueError("a thumbs score is true or false")
    if request.kind == "number" and (
        isinstance(request.value, bool) or not isinstance(request.value, float)
    ):
        raise ValueError("a number score is a number")
    if request.kind == "label" and not isinstance(request.value, str):
        raise ValueError("a label score is text")
    return request
