"""Whether the broker is reachable, and when the SDK should say so in the host's log.

A pure state machine over two inputs, "an attempt to reach the broker failed"
and "the broker answered", plus a clock tick (:meth:`LinkHealth.poll`). It
returns a :class:`LinkReport` when a line is due and None otherwise; the
transport turns reports into log lines with its own numbers. Rules:

- the first failure after the link was up starts an outage and reports
  ``down`` at once, unless an outage was already reported within
  ``report_interval_s``; then the report is deferred until the interval has
  passed (a flapping link gives one line per interval, not one per flap);
- the end of a reported outage reports ``up`` (with its length); the end of an
  unreported one is only counted, and mentioned by the next ``down`` report;
- an outage longer than ``reminder_interval_s`` is reported again
  (``still_down``) every ``reminder_interval_s``.

So an outage costs the host two lines, plus one per reminder interval.
Used by one thread (the transport's loop thread); not thread-safe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["LinkHealth", "LinkReport"]


@dataclass(frozen=True, slots=True)
class LinkReport:
    """A line the transport should log now.

    Attributes:
        kind: ``down`` (an outage began), ``still_down`` (a reminder) or ``up``
            (the outage ended).
        outage_s: how long the current outage has lasted (``up``: its length).
        unreported_outages: for ``down``: outages that began and ended since the
            last report without being reported (rate limited).
    """

    kind: Literal["down", "still_down", "up"]
    outage_s: float
    unreported_outages: int = 0


class LinkHealth:
    """The link's state and the reporting rules (see the module docstring).

    Starts up: the first failure is reported as an outage.

    Args:
        report_interval_s: at most one ``down`` report per this many seconds.
        reminder_interval_s: while an outage lasts, a ``still_down`` report
            every this many seconds.
    """

    def __init__(self, *, report_interval_s: float = 60.0, reminder_interval_s: float = 300.0):
        if report_interval_s < 0 or reminder_interval_s <= 0:
            raise ValueError("report_interval_s >= 0 and reminder_interval_s > 0")
        self.report_interval_s = report_interval_s
        self.reminder_interval_s = reminder_interval_s
        self.up = True
        self.down_since = 0.0
        self._reported = False  # the current outage was reported
        self._last_report = -float("inf")  # when a down or still_down report was last made
        self._unreported = 0

    def failed(self, now: float) -> LinkReport | None:
        """An attempt to reach the broker failed at ``now`` (monotonic seconds)."""
        if self.up:
            self.up = False
            self.down_since = now
            self._reported = False
        return self.poll(now)

    def succeeded(self, now: float) -> LinkReport | None:
        """The broker answered at ``now``."""
        if self.up:
            return None
        self.up = True
        if not self._reported:
            self._unreported += 1
            return None
        self._reported = False
        return LinkReport("up", now - self.down_since)

    def poll(self, now: float) -> LinkReport | None:
        """A deferred ``down`` report or a reminder, if one is due at ``now``."""
        if self.up:
            return None
        since_report = now - self._last_report
        if not self._reported:
            if since_report < self.report_interval_s:
                return None
            self._reported = True
            self._last_report = now
            unreported, self._unreported = self._unreported, 0
            return LinkReport("down", now - self.down_since, unreported)
        if since_report >= self.reminder_interval_s:
            self._last_report = now
            return LinkReport("still_down", now - self.down_since)
        return None
