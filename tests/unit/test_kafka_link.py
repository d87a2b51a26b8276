"""The worker's and sink's Kafka connection: lines per state change, paced metadata rounds."""

from __future__ import annotations

import inspect
import logging
import socket
from collections.abc import Iterator

import aiokafka.client
import pytest
from aiokafka.client import AIOKafkaClient

from tracestream._kafka_link import KafkaLink, install_pacing, uninstall_pacing

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _link(clock: Clock, **kwargs: float) -> tuple[KafkaLink, list[int]]:
    suppressed = [0]
    link = KafkaLink(
        "k:9092",
        totals=lambda: "Totals: 7 events.",
        suppressed=lambda: suppressed[0],
        clock=clock,
        **kwargs,  # type: ignore[arg-type]
    )
    return link, suppressed


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "tracestream.kafka"]


def test_an_outage_is_two_lines_with_the_reason_and_totals(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    link, suppressed = _link(clock)
    with caplog.at_level(logging.INFO):
        for _ in range(200):  # every reconnect attempt of a 20 s outage
            link.attempt_failed("ConnectionRefusedError: refused")
            clock.now += 0.1
            suppressed[0] += 5
        assert (link.lost(), link.up) == (True, False)
        link.attempt_succeeded()
        link.attempt_succeeded()
    lines = _lines(caplog)
    assert len(lines) == 2
    assert lines[0].startswith(
        "cannot connect to Kafka at k:9092 (ConnectionRefusedError: refused); retrying"
    )
    assert lines[0].endswith("Totals: 7 events.")
    assert lines[1] == (
        "connected to Kafka at k:9092 again after 20.0s (aiokafka reported 1000 transient "
        "errors meanwhile, not shown). Totals: 7 events."
    )
    assert (link.up, link.lost(), link.failed_attempts) == (True, False, 200)


def test_a_long_outage_gets_a_reminder_every_interval(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    link, _ = _link(clock, reminder_s=300)
    with caplog.at_level(logging.INFO):
        for _ in range(650):
            link.attempt_failed("refused")
            clock.now += 1
    lines = _lines(caplog)
    assert len(lines) == 3
    assert lines[1].startswith("still cannot connect to Kafka at k:9092 after 300s")
    assert lines[2].startswith("still cannot connect to Kafka at k:9092 after 600s")


def test_flaps_within_the_report_interval_are_counted_not_each_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    link, _ = _link(clock, report_interval_s=60)
    with caplog.at_level(logging.INFO):
        for _ in range(5):  # five short outages, ten seconds apart
            link.attempt_failed("refused")
            clock.now += 1
            link.attempt_succeeded()
            clock.now += 9
        clock.now = 100.0
        link.attempt_failed("refused")
    lines = _lines(caplog)
    assert len(lines) == 3  # the first outage (lost, back), then the one after the interval
    assert "4 shorter outages since the last report" in lines[2]


def test_the_pause_doubles_up_to_its_cap() -> None:
    link = KafkaLink("k", initial_s=0.1, max_s=2.0)
    assert [link.delay_s(n) for n in range(1, 8)] == pytest.approx(
        [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0]
    )


def test_aiokafkas_private_names_are_what_the_pacing_wraps() -> None:
    """``_metadata_update`` and ``create_conn`` keep the shapes the wrappers rely on."""
    assert list(inspect.signature(AIOKafkaClient._metadata_update).parameters) == [
        "self",
        "cluster_metadata",
        "topics",
    ]
    assert inspect.iscoroutinefunction(AIOKafkaClient._metadata_update)
    assert inspect.iscoroutinefunction(aiokafka.client.create_conn)
    assert list(inspect.signature(aiokafka.client.create_conn).parameters)[:2] == ["host", "port"]


@pytest.fixture
def paced_link() -> Iterator[tuple[KafkaLink, list[float]]]:
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    link = KafkaLink("k", sleep=sleep)
    install_pacing(link)
    try:
        yield link, pauses
    finally:
        uninstall_pacing()


async def test_failed_metadata_rounds_pause_longer_each_time_until_one_succeeds(
    paced_link: tuple[KafkaLink, list[float]],
) -> None:
    _, pauses = paced_link
    # A client that knows no broker yet: each round fails without touching the network.
    client = AIOKafkaClient(bootstrap_servers="127.0.0.1:1")
    assert not await client._metadata_update(client.cluster, set())
    assert not await client._metadata_update(client.cluster, set())
    assert not await client._metadata_update(client.cluster, set())
    assert pauses == pytest.approx([0.1, 0.2, 0.4])
    # A client its owner paced already (the SDK's transport) is left alone.
    owned = AIOKafkaClient(bootstrap_servers="127.0.0.1:1")
    owned._metadata_update = owned._metadata_update  # an instance attribute, as the SDK sets
    assert not await owned._metadata_update(owned.cluster, set())
    assert len(pauses) == 3


async def test_a_refused_connection_tells_the_link(
    paced_link: tuple[KafkaLink, list[float]],
) -> None:
    link, _ = paced_link
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens once it is closed
    with pytest.raises(OSError):
        await aiokafka.client.create_conn("127.0.0.1", port)
    assert not link.up and link.failed_attempts == 1


def test_uninstall_puts_aiokafkas_functions_back() -> None:
    before = (AIOKafkaClient._metadata_update, aiokafka.client.create_conn)
    install_pacing(KafkaLink("k"))
    install_pacing(KafkaLink("k"))  # twice: still one layer
    assert AIOKafkaClient._metadata_update.__wrapped__ is before[0]
    uninstall_pacing()
    assert (AIOKafkaClient._metadata_update, aiokafka.client.create_conn) == before
