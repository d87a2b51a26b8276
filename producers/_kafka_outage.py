"""How the Kafka transport notices an unreachable broker, paces its retries and says so.

Two pieces, both used on the transport's loop thread only:

- :func:`pace_metadata` wraps the metadata round of an aiokafka producer's
  client, so that a failed round tells the transport and then waits the
  transport's backoff. Every path aiokafka takes to a broker (its sender when
  a partition lost its leader, its produce retries, its reconnects) asks for a
  metadata round and waits for it; a failed round used to return at once, a
  refused connection fails at once, and aiokafka retried in a tight loop: a
  core's worth of CPU and an ERROR record per attempt.
- :func:`producer_errors` names the aiokafka errors of records that never
  reached a log (safe to send again) and of a wedged producer. After a long
  outage aiokafka's idempotent producer can be left with a gap in its
  sequence numbers (batches that expired while no partition had a leader);
  the broker then refuses every batch it sends (``OutOfOrderSequenceNumber``)
  until a new producer id restarts the sequences, so the transport replaces it.
- :class:`OutageReporter` turns the link's state changes (:mod:`._link`) into
  the SDK's own log lines, with the drop counts, and keeps the periodic drop
  warning quiet while an outage it reported lasts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from ._buffer import DropCounter, EventBuffer
from ._link import LinkHealth, LinkReport

__all__ = ["OutageReporter", "pace_metadata", "producer_errors"]

logger = logging.getLogger("tracestream.producers")


#: aiokafka errors after which its producer refuses everything (a sequence gap, a
#: fenced or unknown producer id): the producer must be replaced.
_WEDGING = ("OutOfOrderSequenceNumber", "InvalidProducerEpoch", "InvalidProducerIdMapping",
            "ProducerFenced")  # fmt: skip
#: aiokafka errors of a record that never reached a partition's log: its batch
#: expired in the accumulator with no leader, the accumulator stayed full, or the
#: broker refused it for one of the reasons above.
_UNWRITTEN = (*_WEDGING, "LeaderNotAvailableError", "NotLeaderForPartitionError",
              "KafkaTimeoutError")  # fmt: skip


#: Errors of ``producer.send`` that are the record's own fault (the producer is fine).
_RECORD = ("MessageSizeTooLargeError",)

ErrorTypes = tuple[type[BaseException], ...]


def producer_errors() -> tuple[ErrorTypes, ErrorTypes, ErrorTypes]:
    """``(unwritten, wedging, record)``: aiokafka's error types, for ``except`` and ``isinstance``.

    Unwritten: the record is safe to send again. Wedging (a subset): the
    producer will refuse everything from now on. Record: ``send`` refused this
    record alone. Imports aiokafka (call it on the loop thread, not at import).
    """
    import aiokafka.errors

    def types(names: tuple[str, ...]) -> ErrorTypes:
        return tuple(getattr(aiokafka.errors, n) for n in names if hasattr(aiokafka.errors, n))

    return types(_UNWRITTEN), types(_WEDGING), (*types(_RECORD), TypeError, ValueError)


def pace_metadata(
    producer: Any, on_result: Callable[[bool], None], next_delay_s: Callable[[], float]
) -> bool:
    """Wrap ``producer.client._metadata_update``: report each round, pause after a failed one.

    ``_metadata_update`` is private to aiokafka but present, with this
    signature, in every version the project allows (``<0.15``; a unit test
    holds the installed one to it).

    Args:
        producer: an ``AIOKafkaProducer``, not started yet.
        on_result: called after each round with True (a broker answered) or False.
        next_delay_s: the pause after a failed round (the transport's backoff).

    Returns:
        False when the client has no such method (the transport still works,
        unpaced).
    """
    client = producer.client
    update = getattr(client, "_metadata_update", None)
    if update is None:
        logger.debug("tracestream KafkaTransport: cannot pace aiokafka's metadata updates")
        return False

    async def paced(cluster_metadata: Any, topics: Any) -> Any:
        answered = await update(cluster_metadata, topics)
        on_result(bool(answered))
        if not answered:
            await asyncio.sleep(next_delay_s())
        return answered

    client._metadata_update = paced
    return True


class OutageReporter:
    """The SDK's lines about an unreachable broker, and the drop warning's silence meanwhile.

    Args:
        where: the bootstrap servers, as shown in the lines.
        drops: the transport's drop counter (muted while an outage lasts; the
            recovery line reports the outage's drops and the totals).
        buffer: the transport's buffer (its bounds and fill are shown).
        report_interval_s: at most one "cannot reach" line per this many seconds.
        reminder_interval_s: a "still cannot reach" line every this many
            seconds of an outage.
    """

    def __init__(
        self,
        *,
        where: str,
        drops: DropCounter,
        buffer: EventBuffer,
        report_interval_s: float = 60.0,
        reminder_interval_s: float = 300.0,
    ) -> None:
        self._where = where
        self._drops = drops
        self._buffer = buffer
        self._link = LinkHealth(
            report_interval_s=report_interval_s, reminder_interval_s=reminder_interval_s
        )
        self._drops_before = 0
        self._reason = ""

    @property
    def up(self) -> bool:
        """False from a failed attempt to reach the broker until it answers again."""
        return self._link.up

    def failed(self, reason: str, now: float) -> None:
        """An attempt to reach the broker failed (``reason`` is shown if it starts an outage)."""
        if self._link.up:
            self._drops_before = self._drops.total
            self._reason = reason
            self._drops.muted = True
        self._log(self._link.failed(now))

    def answered(self, now: float, *, keep_muted: bool = False) -> None:
        """The broker answered. ``keep_muted``: the transport is shutting down."""
        if self._link.up:
            return
        # The recovery line reports the outage's drops before the periodic
        # warning may speak again, or that warning would report them twice.
        self._log(self._link.succeeded(now))
        self._drops.muted = keep_muted

    def poll(self, now: float) -> None:
        """Log a deferred outage line or a reminder, if one is due."""
        self._log(self._link.poll(now))

    def _log(self, report: LinkReport | None) -> None:
        if report is None:
            return
        during = self._drops.total - self._drops_before
        try:
            if report.kind == "down":
                flaps = report.unreported_outages
                logger.warning(
                    "tracestream cannot reach Kafka at %s (%s); buffering up to %d events "
                    "(%.0f MiB), dropping and counting past that%s",
                    self._where,
                    self._reason,
                    self._buffer.max_events,
                    self._buffer.max_bytes / 2**20,
                    f" ({flaps} shorter outages since the last report)" if flaps else "",
                )
            elif report.kind == "still_down":
                logger.warning(
                    "tracestream still cannot reach Kafka at %s after %.0fs; %d events "
                    "buffered, %d dropped during the outage",
                    self._where,
                    report.outage_s,
                    len(self._buffer),
                    during,
                )
            else:
                logger.warning(
                    "tracestream: Kafka at %s is reachable again after %.1fs; %d trace events "
                    "dropped during the outage; dropped %d in total (by reason: %s)",
                    self._where,
                    report.outage_s,
                    during,
                    self._drops.total,
                    self._drops.by_reason(),
                )
                self._drops.mark_reported()
        except Exception:  # noqa: BLE001 - a broken logging handler must not reach the host
            pass
