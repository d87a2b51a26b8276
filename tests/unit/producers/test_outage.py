"""The pure parts of the SDK's outage behaviour: backoff, link reports, muted drops, log guard."""

from __future__ import annotations

import inspect
import logging
from typing import Any

import pytest

from tracestream.producers import InMemoryTransport, Tracer, _library_logs
from tracestream.producers._backoff import Backoff
from tracestream.producers._buffer import RECORD_OVERHEAD_BYTES, DropCounter, EventBuffer
from tracestream.producers._library_logs import hold_library_logs, release_library_logs
from tracestream.producers._link import LinkHealth, LinkReport

pytestmark = pytest.mark.unit


# --- backoff ------------------------------------------------------------------------


def test_backoff_doubles_to_its_cap_and_resets() -> None:
    backoff = Backoff(initial_s=0.1, max_s=5.0, uniform=lambda: 0.5)  # 0.5: no jitter
    schedule = [round(backoff.next_s(), 6) for _ in range(9)]
    assert schedule == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0]
    assert backoff.attempts == 9
    backoff.reset()
    assert backoff.next_s() == pytest.approx(0.1)


def test_backoff_jitter_stays_within_its_spread_and_under_the_cap() -> None:
    low = Backoff(initial_s=1.0, max_s=4.0, jitter=0.2, uniform=lambda: 0.0)
    high = Backoff(initial_s=1.0, max_s=4.0, jitter=0.2, uniform=lambda: 0.999999)
    assert [round(low.next_s(), 3) for _ in range(4)] == [0.8, 1.6, 3.2, 3.2]
    assert [round(high.next_s(), 3) for _ in range(4)] == [1.2, 2.4, 4.0, 4.0]


def test_backoff_survives_a_very_long_outage() -> None:
    backoff = Backoff(initial_s=0.1, max_s=5.0)
    delays = [backoff.next_s() for _ in range(5000)]  # multiplier**5000 would overflow
    assert max(delays) <= 5.0
    assert min(delays[100:]) >= 5.0 * 0.8


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initial_s": 0.0, "max_s": 1.0},
        {"initial_s": 2.0, "max_s": 1.0},
        {"initial_s": 0.1, "max_s": 1.0, "multiplier": 0.5},
        {"initial_s": 0.1, "max_s": 1.0, "jitter": 1.0},
    ],
)
def test_backoff_rejects_bad_arguments(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Backoff(**kwargs)


# --- link reports ---------------------------------------------------------------------


def test_an_outage_is_reported_once_when_it_starts_and_once_when_it_ends() -> None:
    link = LinkHealth(report_interval_s=60, reminder_interval_s=300)
    assert link.succeeded(0.0) is None  # up already: nothing to say
    assert link.failed(10.0) == LinkReport("down", 0.0)
    assert [link.failed(10.0 + i) for i in range(1, 50)] == [None] * 49  # retries are quiet
    assert link.poll(59.0) is None
    assert link.succeeded(33.5) == LinkReport("up", 23.5)
    assert link.succeeded(34.0) is None
    assert link.up


def test_a_flapping_link_gives_one_report_per_interval() -> None:
    link = LinkHealth(report_interval_s=60, reminder_interval_s=300)
    assert link.failed(0.0) == LinkReport("down", 0.0)
    assert link.succeeded(1.0) == LinkReport("up", 1.0)
    # Three more short outages within the interval: counted, not reported.
    for start in (5.0, 10.0, 15.0):
        assert link.failed(start) is None
        assert link.succeeded(start + 1.0) is None
    # An outage that outlasts the interval is reported when the interval ends,
    # with the unreported ones, and its end is reported too.
    assert link.failed(50.0) is None
    assert link.poll(59.9) is None
    assert link.poll(60.0) == LinkReport("down", 10.0, unreported_outages=3)
    assert link.succeeded(70.0) == LinkReport("up", 20.0)


def test_a_long_outage_is_reminded_of() -> None:
    link = LinkHealth(report_interval_s=60, reminder_interval_s=300)
    assert link.failed(0.0) == LinkReport("down", 0.0)
    assert link.poll(299.0) is None
    assert link.poll(300.0) == LinkReport("still_down", 300.0)
    assert link.failed(450.0) is None
    assert link.poll(600.0) == LinkReport("still_down", 600.0)
    assert link.succeeded(601.0) == LinkReport("up", 601.0)


def test_link_rejects_bad_intervals() -> None:
    with pytest.raises(ValueError):
        LinkHealth(report_interval_s=-1)
    with pytest.raises(ValueError):
        LinkHealth(reminder_interval_s=0)


# --- drops and the buffer during an outage --------------------------------------------------


def test_muted_drops_are_counted_and_reported_by_the_owner(
    caplog: pytest.LogCaptureFixture,
) -> None:
    drops = DropCounter(warn_interval_s=0.0)
    with caplog.at_level(logging.WARNING, logger="tracestream.producers"):
        drops.muted = True
        for _ in range(500):
            drops.add("buffer_full")
        assert not caplog.records
        assert drops.total == 500
        drops.mark_reported()  # the owner's recovery line said it
        drops.muted = False
        drops.add("buffer_full", 7)
    assert len(caplog.records) == 1
    # Only the drops since the owner's report, with the totals.
    assert "dropped 7 trace events since the last warning" in caplog.records[0].getMessage()
    assert "'buffer_full': 507" in caplog.records[0].getMessage()


def test_requeued_records_go_back_to_the_head_in_order() -> None:
    buffer = EventBuffer(max_events=3, max_bytes=10_000, drops=DropCounter())
    for value in (b"a", b"b", b"c"):
        assert buffer.offer(b"k", value)
    taken = buffer.take(2)
    assert buffer.offer(b"k", b"d")
    assert buffer.requeue(taken)  # past max_events: they were accepted already
    assert len(buffer) == 4 and buffer.bytes == 4 * (2 + RECORD_OVERHEAD_BYTES)
    assert not buffer.offer(b"k", b"e")  # the bound holds for new events
    assert [v for _, v in buffer.take(10)] == [b"a", b"b", b"c", b"d"]
    buffer.close()
    assert not buffer.requeue([(b"k", b"z")])


# --- the final total ------------------------------------------------------------------------


def test_shutdown_logs_the_final_drop_total_equal_to_stats(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tracer = Tracer(
        project="p", service="s", transport=InMemoryTransport(max_events=10), flush_at_exit=False
    )
    with caplog.at_level(logging.WARNING, logger="tracestream.producers"):
        for _ in range(100):
            with tracer.span("x"):
                pass
        tracer.score("not-a-trace-id", "q", 1.0)  # a drop of the tracer's own
        tracer.shutdown()
    final = caplog.records[-1].getMessage()
    stats = tracer.stats()
    assert stats.dropped == 91
    assert f"dropped {stats.dropped} in total" in final
    assert "'buffer_full': 90" in final and "'invalid_score': 1" in final


# --- aiokafka's records and the host's stderr ----------------------------------------------


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _pristine_library_loggers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ``aiokafka`` loggers as an untouched host has them: earlier tests of this
    process may have run a worker's or sink's log policy (its own handler, propagate
    off, a level) or left an SDK transport holding them, which this host never would."""
    # No transport of an earlier test holds the loggers either (a held count with
    # its handler gone from the list would never attach it again).
    monkeypatch.setattr(_library_logs, "_holders", 0)
    monkeypatch.setattr(_library_logs, "_handler", None)
    for name in ("aiokafka", "aiokafka.client"):
        library = logging.getLogger(name)
        monkeypatch.setattr(library, "handlers", [])
        monkeypatch.setattr(library, "filters", [])
        monkeypatch.setattr(library, "propagate", True)
        monkeypatch.setattr(library, "disabled", False)
        monkeypatch.setattr(library, "level", logging.NOTSET)
    logging.getLogger("aiokafka").manager._clear_cache()


def test_aiokafka_records_skip_the_last_resort_only_while_a_transport_holds_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A host that configured no logging: no handler on the root (pytest's own
    # capture handlers are set aside), stderr reached through the last resort.
    stderr = Capture()
    monkeypatch.setattr(logging.root, "handlers", [])
    monkeypatch.setattr(logging, "lastResort", stderr)
    _pristine_library_loggers(monkeypatch)
    noisy = logging.getLogger("aiokafka.client")

    noisy.error("Unable connect to node with id %s: %s", 1, "refused")
    assert len(stderr.lines) == 1  # what the host saw before

    hold_library_logs()
    hold_library_logs()  # a second transport
    try:
        noisy.error("Unable connect to node with id %s: %s", 1, "refused")
        release_library_logs()
        noisy.error("Unable to update metadata from %s", [1])
        assert len(stderr.lines) == 1  # neither reached stderr
    finally:
        release_library_logs()
    noisy.error("Unable to update metadata from %s", [1])
    assert len(stderr.lines) == 2  # the last transport gone: logging as it was
    assert logging.getLogger("aiokafka").handlers == []


def test_a_host_that_configured_logging_still_gets_aiokafka_records(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    host = Capture()
    monkeypatch.setattr(logging.root, "handlers", [host])
    _pristine_library_loggers(monkeypatch)
    hold_library_logs()
    try:
        logging.getLogger("aiokafka.client").error("Unable to update metadata from %s", [1])
    finally:
        release_library_logs()
    assert host.lines == ["Unable to update metadata from [1]"]
    assert logging.getLogger("aiokafka").propagate
    assert logging.getLogger("aiokafka").level == logging.NOTSET


def test_the_installed_aiokafka_has_the_metadata_round_the_transport_paces() -> None:
    """``KafkaTransport`` wraps ``AIOKafkaClient._metadata_update`` (private) of its
    producer's client: a new aiokafka that renamed it would leave reconnects
    unpaced, so fail here first."""
    import aiokafka.producer.producer
    from aiokafka.client import AIOKafkaClient

    assert aiokafka.producer.producer.AIOKafkaClient is AIOKafkaClient
    assert inspect.iscoroutinefunction(AIOKafkaClient._metadata_update)
    assert list(inspect.signature(AIOKafkaClient._metadata_update).parameters) == [
        "self",
        "cluster_metadata",
        "topics",
    ]


def test_every_aiokafka_error_the_transport_classifies_exists() -> None:
    """A name missing from aiokafka would silently fall into "delivery failed"."""
    from tracestream.producers._kafka_outage import _RECORD, _UNWRITTEN, _WEDGING, producer_errors

    unwritten, wedging, record = producer_errors()
    assert [t.__name__ for t in unwritten] == list(_UNWRITTEN)
    assert [t.__name__ for t in wedging] == list(_WEDGING)
    assert [t.__name__ for t in record][: len(_RECORD)] == list(_RECORD)
    assert set(wedging) <= set(unwritten)
