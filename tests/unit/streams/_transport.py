"""An in-memory transport for the shared publisher's tests: no broker, attempts scripted."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence

from tracestream.streams.runtime import Message

__all__ = ["MemoryTransport", "Refused"]


class Refused(Exception):
    """What the in-memory broker raises for a refused attempt."""


class MemoryTransport:
    """Acknowledges or refuses whole attempts, as told; remembers what each one queued.

    Args:
        refuse: per attempt, in order: ``"ack"`` (every record acknowledged),
            ``"queue"`` (raises while queueing, after the first record) or ``"nack"``
            (queued, then the second ack fails). Attempts past the list are acked.
    """

    def __init__(self, refuse: Sequence[str] = ()) -> None:
        self._plan = iter(refuse)
        self.attempts: list[list[Message]] = []
        self.acked: list[Message] = []
        self.resets = 0

    async def send(self, messages: Sequence[Message], acks: list[Awaitable[object]]) -> None:
        how = next(self._plan, "ack")
        self.attempts.append(list(messages))
        loop = asyncio.get_running_loop()
        for i in range(len(messages)):
            if how == "queue" and i == 1:
                raise Refused("queue full")
            ack: asyncio.Future[object] = loop.create_future()
            if how == "nack" and i == 1:
                ack.set_exception(Refused("record too large"))
            else:
                ack.set_result(None)
            acks.append(ack)
        if how == "ack":
            self.acked += messages

    async def reset(self) -> None:
        self.resets += 1
