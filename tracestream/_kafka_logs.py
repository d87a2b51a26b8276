"""How the worker's, the sink's and the demo's processes treat aiokafka's log records.

aiokafka logs at WARNING or ERROR every time it cannot reach a broker, finds
a group coordinator not ready yet, or meets a partition whose leader moved:
one record per attempt, so a 20 s broker outage wrote tens of thousands of
lines, and a healthy start (fresh topics, a coordinator still loading) a few
alarming ones. Those conditions are transient and aiokafka retries them; what
an operator needs is one line when the connection is lost and one when it is
back (:mod:`tracestream._kafka_link` writes those, with totals).

The policy, for the ``aiokafka`` logger namespace of a process we own:

- below WARNING, nothing is recorded (``--verbose`` shows INFO and lifts
  everything below);
- a *transient* record (a template in :data:`TRANSIENT`) is counted, not
  shown. If the same template keeps coming for ``persist_s`` it is summarised
  in one WARNING (then again every ``reminder_s``), so a condition that does
  not go away is never hidden for good; while the connection is known to be
  lost the link's own lines say it instead;
- any other WARNING or ERROR is shown, at most once per template per
  ``repeat_window_s``; the next one shown says how many were held back.

``--verbose`` turns the policy off: every record from INFO up is shown as
aiokafka wrote it. Our own loggers (``tracestream.*``) are never touched.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "LIBRARY_LOGGER",
    "TRANSIENT",
    "Decision",
    "LibraryLogPolicy",
    "PolicyHandler",
    "install_library_log_policy",
    "is_transient",
]

LIBRARY_LOGGER = "aiokafka"

#: Beginnings of aiokafka's message templates (``record.msg``, before ``%``
#: formatting) that report a condition it retries by itself: a broker that does
#: not answer, a coordinator that moved or is loading, a leader that moved, a
#: rebalance in progress. Read from aiokafka 0.14's source.
TRANSIENT: tuple[str, ...] = (
    "Unable connect to",
    "Unable to update metadata from",
    "Unable to request metadata from",
    "Failed fetch messages from",
    "Failed fetch offsets from",
    "Group Coordinator Request failed",
    "FindCoordinator Request failed",
    "Marking the coordinator dead",
    "Error sending %s to node %s [%s] -- marking coordinator dead",
    "Heartbeat failed for group %s: coordinator",
    "Heartbeat failed for group %s because it is rebalancing",
    "Heartbeat failed for group %s: generation id is not",
    "Heartbeat failed: local member_id was not recognized",
    "Heartbeat send request failed",
    "Heartbeat session expired",
    "Got error produce response",
    "Topic %s is not available during auto-create initialization",
    "No partition metadata for topic",
    "Topic %s not found in cluster metadata",
    "Received unknown topic or partition error",
    "OffsetCommit failed for group %s due to group",
    "OffsetCommit failed for group %s - %s",
)


def is_transient(template: object) -> bool:
    """Whether an aiokafka message template reports a condition aiokafka retries."""
    return isinstance(template, str) and template.startswith(TRANSIENT)


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with one record.

    Attributes:
        show: write the record.
        held_back: for a shown record, how many of its template were not shown
            since the last one that was (to append to it).
        summary: a line to write instead of (or besides) the record, or "".
    """

    show: bool
    held_back: int = 0
    summary: str = ""


@dataclass(slots=True)
class _Seen:
    first_s: float  # start of the current run of this template
    last_s: float  # last record of it
    count: int = 0  # records in the current run
    shown_s: float = -float("inf")  # when one was last shown or summarised
    held: int = 0  # records held back since then


class LibraryLogPolicy:
    """The decisions of the module docstring, as a pure state machine over a clock.

    Args:
        repeat_window_s: a non-transient template is shown at most once per this.
        persist_s: a transient template seen without a pause of ``gap_s`` for this
            long is summarised.
        reminder_s: while it goes on, the summary is repeated this often.
        gap_s: a pause this long ends a run of a transient template.
        connection_lost: True while the connection's loss has been reported by the
            link's own lines (transient records are then only counted).

    Who may call it: one thread at a time (the handler's lock).
    """

    def __init__(
        self,
        *,
        repeat_window_s: float = 60.0,
        persist_s: float = 30.0,
        reminder_s: float = 300.0,
        gap_s: float = 10.0,
        connection_lost: Callable[[], bool] = lambda: False,
    ) -> None:
        self.repeat_window_s = repeat_window_s
        self.persist_s = persist_s
        self.reminder_s = reminder_s
        self.gap_s = gap_s
        self._connection_lost = connection_lost
        self._seen: dict[tuple[str, str], _Seen] = {}
        #: Transient records not shown, in total (the link's lines report it).
        self.suppressed = 0

    def decide(self, logger: str, template: str, message: str, now: float) -> Decision:
        """The decision for one WARNING-or-above record of ``logger`` at ``now``."""
        key = (logger, template)
        seen = self._seen.get(key)
        if seen is None or now - seen.last_s > self.gap_s:
            # A new run. What was held back in the last one is carried on, for a
            # non-transient template: its next shown record says how many.
            held = seen.held if seen is not None else 0
            shown_s = seen.shown_s if seen is not None else -float("inf")
            seen = self._seen[key] = _Seen(first_s=now, last_s=now, shown_s=shown_s, held=held)
        seen.last_s = now
        seen.count += 1
        if is_transient(template):
            self.suppressed += 1
            return self._transient(seen, template, message, now)
        if now - seen.shown_s >= self.repeat_window_s:
            held, seen.held, seen.shown_s = seen.held, 0, now
            return Decision(True, held_back=held)
        seen.held += 1
        return Decision(False)

    def _transient(self, seen: _Seen, template: str, message: str, now: float) -> Decision:
        if now - seen.first_s < self.persist_s or self._connection_lost():
            return Decision(False)
        if now - seen.shown_s < self.reminder_s:
            return Decision(False)
        seen.shown_s = now
        return Decision(
            False,
            summary=(
                f"aiokafka has kept reporting this for {now - seen.first_s:.0f}s "
                f"({seen.count} times; --verbose shows each): {message}"
            ),
        )


class PolicyHandler(logging.Handler):
    """Applies a :class:`LibraryLogPolicy` to the library's records and passes on what it shows.

    Attached to the library's logger with ``propagate`` off: the records it
    shows go on to the root logger's handlers (whatever the process configured,
    or Python's last resort), unchanged but for a held-back count.
    """

    def __init__(self, policy: LibraryLogPolicy, *, clock: Callable[[], float] = time.monotonic):
        super().__init__(logging.NOTSET)
        self.policy = policy
        self._clock = clock

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < logging.WARNING:
            return  # the policy's level is WARNING; someone lowered the logger's since
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is shown as is, never lost
            message = str(record.msg)
        decision = self.policy.decide(record.name, str(record.msg), message, self._clock())
        if decision.summary:
            summary = logging.LogRecord(
                record.name, logging.WARNING, record.pathname, record.lineno,
                "%s", (decision.summary,), None,
            )  # fmt: skip
            logging.getLogger().handle(summary)
        if decision.show:
            if decision.held_back:
                record.msg = f"{message} [{decision.held_back} more like this not shown]"
                record.args = None
            logging.getLogger().handle(record)


def install_library_log_policy(
    *, verbose: bool, connection_lost: Callable[[], bool] = lambda: False
) -> LibraryLogPolicy | None:
    """Apply the policy to the ``aiokafka`` loggers of this process (again: replaces it).

    Call it from a command that owns its process (worker, sink, demo) after
    logging is configured; never from library code (an application embedding
    the SDK keeps its own logging). Returns the policy in force, None with
    ``verbose``.

    Args:
        verbose: show every aiokafka record from INFO up, as written.
        connection_lost: see :class:`LibraryLogPolicy`.
    """
    library = logging.getLogger(LIBRARY_LOGGER)
    for handler in list(library.handlers):
        if isinstance(handler, PolicyHandler):
            library.removeHandler(handler)
    if verbose:
        library.setLevel(logging.INFO)
        library.propagate = True
        return None
    policy = LibraryLogPolicy(connection_lost=connection_lost)
    # Below WARNING nothing is even built: aiokafka logs every produced record at DEBUG.
    library.setLevel(logging.WARNING)
    library.propagate = False
    library.addHandler(PolicyHandler(policy))
    return policy
