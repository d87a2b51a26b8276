"""The worker's and sink's view of their connection to Kafka: paced retries, one line per change.

Every path by which aiokafka reaches a broker again (a consumer's fetcher
or group coordinator, a producer's sender, a reconnect after a closed
connection) asks its client for a metadata round and waits for it. A round
that fails returns at once when the broker refuses connections, and the
waiters ask again: without a pause, a client in a Faust worker retried
hundreds of times a second for as long as the broker was down (measured: 18%
of a core and ~29k log lines in a 20 s outage). aiokafka 0.14 has no
``reconnect_backoff_ms`` and its ``retry_backoff_ms`` is a fixed pause, so
:func:`install_pacing` wraps ``AIOKafkaClient._metadata_update`` once per
process: after a failed round the client waits ``initial_s``, doubling per
consecutive failure up to ``max_s``, and a round that succeeds resets it. A
client whose owner paced it already (an instance attribute, as the SDK's
transport sets in a process that embeds it, like the demo) is left to its
owner.

Whether Kafka is reachable is read where every connection is made,
``aiokafka.client.create_conn`` (bootstrap and reconnects alike; a metadata
round is not enough: a consumer whose metadata is still fresh reconnects
without one). A :class:`KafkaLink` hears each attempt's outcome and writes
the lines an operator reads:

- ``cannot connect to Kafka at ...`` when an attempt fails (at most one such
  line per ``report_interval_s``; a flap in between is counted and mentioned
  by the next one), with the reason;
- ``connected to Kafka at ... again after N s`` at the first attempt that
  succeeds, with the records aiokafka wrote meanwhile (held back by
  :mod:`._kafka_logs`) and the process's totals;
- ``still cannot connect ...`` every ``reminder_s`` of a long outage.

Both names are private to aiokafka but present, with these signatures, in
every version the project allows (``<0.15``); a unit test holds the
installed one to them.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["KafkaLink", "install_pacing", "own_kafka_clients", "uninstall_pacing"]

_log = logging.getLogger("tracestream.kafka")

#: Where the pacing keeps its count of a client's consecutive failed rounds.
_FAILURES = "_tracestream_failed_rounds"


class KafkaLink:
    """Whether this process's Kafka clients reach a broker, and the lines that say so.

    Args:
        where: the bootstrap servers, as the lines show them.
        totals: the process's running totals for the lines ("12,345 events
            processed, ..."); called when a line is written.
        suppressed: how many aiokafka records the log policy held back so far.
        initial_s: the pause after a client's first failed round.
        max_s: the longest pause between rounds.
        report_interval_s: at most one "lost" line per this many seconds.
        reminder_s: a "still cannot connect" line this often while it lasts.
        clock: monotonic seconds (tests pass their own).
        sleep: the pause between a client's rounds (tests pass their own).

    Who may call it: the event loop's thread (the paced rounds run there).
    """

    def __init__(
        self,
        where: str,
        *,
        totals: Callable[[], str] = lambda: "",
        suppressed: Callable[[], int] = lambda: 0,
        initial_s: float = 0.1,
        max_s: float = 2.0,
        report_interval_s: float = 60.0,
        reminder_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.where = where
        self.sleep = sleep
        self.initial_s = initial_s
        self.max_s = max_s
        self.report_interval_s = report_interval_s
        self.reminder_s = reminder_s
        self._totals = totals
        self._suppressed = suppressed
        self._clock = clock
        self.up = True
        self.reported = False  # the current outage has had its "lost" line
        self.down_since = 0.0
        self._last_report = -float("inf")
        self._suppressed_before = 0
        self._flaps = 0  # outages that ended before they could be reported
        self.failed_attempts = 0

    def delay_s(self, consecutive_failures: int) -> float:
        """The pause after a client's ``consecutive_failures``-th failed round in a row."""
        return min(self.max_s, self.initial_s * 2.0 ** max(0, consecutive_failures - 1))

    def lost(self) -> bool:
        """True while an outage is going on and its "lost" line was written."""
        return not self.up and self.reported

    def attempt_failed(self, reason: str) -> None:
        """A connection to a broker could not be made (``reason``: why)."""
        now = self._clock()
        self.failed_attempts += 1
        if self.up:
            self.up = False
            self.reported = False
            self.down_since = now
            self._suppressed_before = self._suppressed()
        if not self.reported:
            if now - self._last_report >= self.report_interval_s:
                self.reported = True
                self._last_report = now
                self._say_lost(reason)
        elif now - self._last_report >= self.reminder_s:
            self._last_report = now
            _log.warning(
                "still cannot connect to Kafka at %s after %.0fs; retrying every %.0fs at most. %s",
                self.where,
                now - self.down_since,
                self.max_s,
                self._totals(),
            )

    def attempt_succeeded(self) -> None:
        """A connection to a broker was made."""
        if self.up:
            return
        now = self._clock()
        self.up = True
        if not self.reported:
            self._flaps += 1
            return
        self.reported = False
        _log.warning(
            "connected to Kafka at %s again after %.1fs (aiokafka reported %d transient errors "
            "meanwhile, not shown). %s",
            self.where,
            now - self.down_since,
            self._suppressed() - self._suppressed_before,
            self._totals(),
        )

    def _say_lost(self, reason: str) -> None:
        flaps, self._flaps = self._flaps, 0
        _log.warning(
            "cannot connect to Kafka at %s (%s); retrying with backoff up to %.0fs, "
            "one line when connected again (--verbose shows aiokafka's own lines)%s. %s",
            self.where,
            reason,
            self.max_s,
            f"; {flaps} shorter outages since the last report" if flaps else "",
            self._totals(),
        )


def install_pacing(link: KafkaLink) -> None:
    """Pace every aiokafka client's metadata rounds in this process; report connections to ``link``.

    Call it once, from a command that owns its process (worker, sink, demo),
    before any client is created. A second call re-targets the reports to
    the new ``link``.
    """
    import aiokafka.client
    from aiokafka.client import AIOKafkaClient

    originals: dict[str, Any] = getattr(aiokafka.client, "_tracestream_originals", {})
    if not originals:
        originals = {
            "_metadata_update": AIOKafkaClient._metadata_update,
            "create_conn": aiokafka.client.create_conn,
        }
        aiokafka.client._tracestream_originals = originals
    update: Callable[..., Awaitable[bool]] = originals["_metadata_update"]
    connect: Callable[..., Awaitable[Any]] = originals["create_conn"]

    @functools.wraps(update)
    async def paced(self: Any, cluster_metadata: Any, topics: Any) -> bool:
        if "_metadata_update" in vars(self):
            # Its owner wrapped this client already (the SDK's transport paces its
            # own): no second pause.
            return await update(self, cluster_metadata, topics)
        if await update(self, cluster_metadata, topics):
            setattr(self, _FAILURES, 0)
            return True
        failures = getattr(self, _FAILURES, 0) + 1
        setattr(self, _FAILURES, failures)
        await link.sleep(link.delay_s(failures))
        return False

    @functools.wraps(connect)
    async def watched(*args: Any, **kwargs: Any) -> Any:
        try:
            conn = await connect(*args, **kwargs)
        except BaseException as exc:
            if not isinstance(exc, asyncio.CancelledError):
                link.attempt_failed(_reason(exc))
            raise
        link.attempt_succeeded()
        return conn

    AIOKafkaClient._metadata_update = paced
    aiokafka.client.create_conn = watched


def _reason(exc: BaseException) -> str:
    """``Type: message``, once (aiokafka's errors put their type in their message already)."""
    name, text = type(exc).__name__, str(exc)
    return text if text.startswith(name) else f"{name}: {text}" if text else name


def uninstall_pacing() -> None:
    """Put aiokafka's own functions back (tests; a process that owns its clients keeps them)."""
    import aiokafka.client
    from aiokafka.client import AIOKafkaClient

    originals: dict[str, Any] = getattr(aiokafka.client, "_tracestream_originals", {})
    if originals:
        AIOKafkaClient._metadata_update = originals["_metadata_update"]
        aiokafka.client.create_conn = originals["create_conn"]
        del aiokafka.client._tracestream_originals


def own_kafka_clients(
    *, verbose: bool, where: str, totals: Callable[[], str] = lambda: ""
) -> KafkaLink:
    """What a command that owns its process (worker, sink, demo) does about aiokafka, in one call.

    Applies the log policy of :mod:`tracestream._kafka_logs` (off with
    ``verbose``), paces the clients' metadata rounds and returns the link that
    reports the connection's state changes. Call it after logging is
    configured and before any Kafka client is created.
    """
    from tracestream._kafka_logs import install_library_log_policy

    holder: list[KafkaLink] = []
    policy = install_library_log_policy(
        verbose=verbose, connection_lost=lambda: bool(holder) and holder[0].lost()
    )
    link = KafkaLink(
        where,
        totals=totals,
        suppressed=(lambda: policy.suppressed) if policy is not None else (lambda: 0),
    )
    holder.append(link)
    install_pacing(link)
    return link
