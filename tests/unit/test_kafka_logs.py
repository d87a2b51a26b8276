"""The policy for aiokafka's log records in the worker's, sink's and demo's processes."""

from __future__ import annotations

import ast
import logging
from collections.abc import Iterator
from pathlib import Path

import aiokafka
import pytest

from tracestream._kafka_logs import (
    LIBRARY_LOGGER,
    TRANSIENT,
    LibraryLogPolicy,
    PolicyHandler,
    install_library_log_policy,
    is_transient,
)

pytestmark = pytest.mark.unit

CONNECT = "Unable connect to node with id %s: %s"  # aiokafka.client, per attempt
UNKNOWN = "Unexpected error in fetcher routine"  # aiokafka's consumer, a real error


def test_transient_records_are_counted_not_shown_until_they_persist() -> None:
    policy = LibraryLogPolicy(persist_s=30, reminder_s=300, gap_s=10)
    shown = [policy.decide("aiokafka", CONNECT, "refused", t * 0.5) for t in range(59)]
    assert not any(d.show or d.summary for d in shown)  # 29 s of them: a blip
    assert policy.suppressed == 59
    summary = policy.decide("aiokafka", CONNECT, "refused", 30.0).summary
    assert summary.startswith("aiokafka has kept reporting this for 30s (60 times")
    assert summary.endswith(": refused")
    # Then a reminder every reminder_s while it goes on, nothing in between.
    later = [policy.decide("aiokafka", CONNECT, "refused", 30 + t) for t in range(1, 301)]
    assert [d.summary != "" for d in later].count(True) == 1
    assert later[-1].summary.startswith("aiokafka has kept reporting this for 330s")


def test_a_pause_ends_a_run_of_transient_records() -> None:
    policy = LibraryLogPolicy(persist_s=30, gap_s=10)
    for t in range(25):
        policy.decide("aiokafka", CONNECT, "refused", float(t))
    # 11 s of quiet: the next run starts from zero, so 25 more seconds say nothing.
    decisions = [policy.decide("aiokafka", CONNECT, "refused", 36.0 + t) for t in range(25)]
    assert not any(d.summary for d in decisions)


def test_no_summary_while_the_link_has_said_the_connection_is_lost() -> None:
    lost = [True]
    policy = LibraryLogPolicy(persist_s=30, connection_lost=lambda: lost[0])
    assert not any(
        policy.decide("aiokafka", CONNECT, "refused", float(t)).summary for t in range(120)
    )
    lost[0] = False  # the connection came back, but the condition still goes on
    assert policy.decide("aiokafka", CONNECT, "refused", 120.0).summary


def test_other_warnings_are_shown_once_a_window_and_say_what_was_held_back() -> None:
    policy = LibraryLogPolicy(repeat_window_s=60)
    first = policy.decide("aiokafka.consumer.fetcher", UNKNOWN, "boom", 0.0)
    assert first.show and first.held_back == 0
    held = [policy.decide("aiokafka.consumer.fetcher", UNKNOWN, "boom", float(t)) for t in range(1, 60)]  # fmt: skip
    assert not any(d.show for d in held)
    again = policy.decide("aiokafka.consumer.fetcher", UNKNOWN, "boom", 61.0)
    assert again.show and again.held_back == 59
    # Another template has its own window.
    assert policy.decide("aiokafka.consumer.fetcher", "Other %s", "x", 61.5).show
    assert policy.suppressed == 0  # only transient records count as suppressed


def test_the_transient_list_matches_aiokafkas_own_messages() -> None:
    """Each entry begins a string literal in the installed aiokafka: none is stale."""
    literals: set[str] = set()
    for path in Path(aiokafka.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                literals.add(node.value)
    stale = [p for p in TRANSIENT if not any(lit.startswith(p) for lit in literals)]
    assert stale == []
    assert is_transient(CONNECT) and not is_transient(UNKNOWN) and not is_transient(None)


@pytest.fixture
def root_records() -> Iterator[list[logging.LogRecord]]:
    """The records that reach the root logger's handlers; aiokafka's logger restored after."""

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    records: list[logging.LogRecord] = []
    library = logging.getLogger(LIBRARY_LOGGER)
    saved = (library.level, library.propagate, list(library.handlers))
    root = logging.getLogger()
    handler = Collect()
    root.addHandler(handler)
    old_root_level = root.level
    root.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        root.removeHandler(handler)
        root.setLevel(old_root_level)
        library.setLevel(saved[0])
        library.propagate = saved[1]
        library.handlers[:] = saved[2]


def test_installed_policy_holds_back_aiokafkas_noise_and_passes_the_rest(
    root_records: list[logging.LogRecord],
) -> None:
    install_library_log_policy(verbose=False)
    conn = logging.getLogger("aiokafka")
    coordinator = logging.getLogger("aiokafka.consumer.group_coordinator")
    conn.error(CONNECT, 1, "Connect call failed")
    coordinator.warning("Marking the coordinator dead (node %s)for group %s.", 1, "g")
    coordinator.info("(Re-)joining group %s", "g")
    coordinator.error(UNKNOWN)
    coordinator.error(UNKNOWN)
    logging.getLogger("tracestream.worker").warning("ours")
    assert [(r.name, r.getMessage()) for r in root_records] == [
        ("aiokafka.consumer.group_coordinator", UNKNOWN),
        ("tracestream.worker", "ours"),
    ]
    handler = next(h for h in conn.handlers if isinstance(h, PolicyHandler))
    assert handler.policy.suppressed == 2


def test_verbose_shows_every_record_from_info_up(root_records: list[logging.LogRecord]) -> None:
    install_library_log_policy(verbose=False)
    install_library_log_policy(verbose=True)  # replaces the policy
    coordinator = logging.getLogger("aiokafka.consumer.group_coordinator")
    coordinator.debug("per record")
    coordinator.info("(Re-)joining group %s", "g")
    coordinator.warning("Marking the coordinator dead (node %s)for group %s.", 1, "g")
    assert [r.levelname for r in root_records] == ["INFO", "WARNING"]
    assert not any(isinstance(h, PolicyHandler) for h in logging.getLogger("aiokafka").handlers)


def test_a_shown_record_carries_the_count_held_back() -> None:
    now = [0.0]
    handler = PolicyHandler(LibraryLogPolicy(repeat_window_s=60), clock=lambda: now[0])
    seen: list[str] = []
    root = logging.getLogger()

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    collect = Collect()
    root.addHandler(collect)
    try:
        for t in (0.0, 1.0, 2.0, 70.0):
            now[0] = t
            handler.handle(
                logging.LogRecord("aiokafka", logging.ERROR, "f", 1, "odd %s%%", ("x",), None)
            )
    finally:
        root.removeHandler(collect)
    assert seen == ["odd x%", "odd x% [2 more like this not shown]"]
