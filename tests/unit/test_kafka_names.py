"""Every Kafka name follows the topic prefix; static member names are claimed per host."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tracestream._kafka_names import KafkaNames, claim_member, kafka_names, member_name
from tracestream._settings import load_settings
from tracestream.cli._sink import _sink_config
from tracestream.cli._worker import build_worker

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("TRACESTREAM_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def _kafka_names_of_a_deployment(prefix: str, engine: str) -> set[str]:
    """Every Kafka name the worker and sink of a deployment use (groups, client ids)."""
    settings = load_settings(topic_prefix=prefix, worker_engine=engine)
    worker = build_worker(settings, group_instance_id="w.member")
    sink = _sink_config(settings, group_instance_id="s.member")
    return {
        worker.config.app_id,
        worker.config.client_id,
        sink.group_id,
        sink.client_id,
    }


@pytest.mark.parametrize("engine", ["aiokafka", "faust"])
def test_every_group_and_client_id_takes_the_prefix(engine: str) -> None:
    names = _kafka_names_of_a_deployment("acme.", engine)
    assert names == {"acme.tracestream-worker", "acme.tracestream-sink"}
    assert all(name.startswith("acme.") for name in names)
    # Two deployments on one cluster share no name (the sink's group used to collide).
    assert not names & _kafka_names_of_a_deployment("other.", engine)


def test_without_a_prefix_the_names_stay_as_they_were() -> None:
    assert _kafka_names_of_a_deployment("", "aiokafka") == {
        "tracestream-worker",
        "tracestream-sink",
    }


def test_the_aiokafka_runtime_gets_the_member_name_it_is_given() -> None:
    settings = load_settings(topic_prefix="p.", worker_engine="aiokafka")
    worker = build_worker(settings, group_instance_id="p.tracestream-worker.host-0")
    assert worker.config.group_instance_id == "p.tracestream-worker.host-0"
    assert build_worker(settings).config.group_instance_id is None
    assert _sink_config(settings).group_instance_id is None


def test_the_faust_worker_joins_as_a_dynamic_member() -> None:
    """Static membership under Faust was measured to fail (see streams/runtime/_faust.py)."""
    settings = load_settings(topic_prefix="p.", worker_engine="faust")
    worker = build_worker(settings, group_instance_id="p.tracestream-worker.host-0")
    assert worker.config.group_instance_id is None


def test_names_from_settings_and_the_rule() -> None:
    names = kafka_names(load_settings(topic_prefix="x-", worker_app_id="w", sink_group_id="s"))
    assert (names.worker_group, names.sink_group) == ("x-w", "x-s")
    assert KafkaNames.client_id(names.sink_group) == "x-s"


def test_instance_ids_are_legal_for_kafka_and_keep_the_member_part() -> None:
    assert KafkaNames.instance_id("acme.tracestream-sink", "host-1") == (
        "acme.tracestream-sink.host-1"
    )
    assert KafkaNames.instance_id("g r/p", "h:0") == "g-r-p.h-0"
    long = KafkaNames.instance_id("g" * 400, "host-12")
    assert len(long) == 249 and long.endswith(".host-12")


def test_member_names_use_the_short_hostname() -> None:
    assert member_name("worker-3.svc.cluster.local", 0) == "worker-3-0"
    assert member_name("", 2) == "host-2"


def test_claims_take_the_lowest_free_slot_and_give_it_back(tmp_path: Path) -> None:
    first = claim_member("acme.g", lock_dir=tmp_path)
    second = claim_member("acme.g", lock_dir=tmp_path)
    other_group = claim_member("other.g", lock_dir=tmp_path)
    assert first is not None and second is not None and other_group is not None
    assert (first.slot, second.slot, other_group.slot) == (0, 1, 0)
    assert first.member != second.member
    first.release()
    again = claim_member("acme.g", lock_dir=tmp_path)
    assert again is not None and again.slot == 0 and again.member == first.member
    for claim in (second, other_group, again):
        claim.release()


def test_a_configured_name_is_taken_as_is(tmp_path: Path) -> None:
    claim = claim_member("g", "pod-7", lock_dir=tmp_path)
    assert claim is not None and (claim.member, claim.slot) == ("pod-7", None)
    assert not list(tmp_path.iterdir())  # no lock taken


def test_the_lock_directory_is_shared_by_the_hosts_users(tmp_path: Path) -> None:
    lock_dir = tmp_path / "members"
    claim = claim_member("g", lock_dir=lock_dir)
    assert claim is not None
    assert lock_dir.stat().st_mode & 0o7777 == 0o1777
    claim.release()


def test_no_slot_to_be_had_means_a_dynamic_member_said_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")  # a file where the lock directory should be
    assert claim_member("g", lock_dir=blocker / "members") is None
    assert "joining as a dynamic member" in caplog.text


def test_a_slot_held_by_a_killed_process_is_free_again(tmp_path: Path) -> None:
    """SIGKILL releases the lock: a restart after a crash gets the crashed name back."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, pathlib\n"
            "from tracestream._kafka_names import claim_member\n"
            "claim = claim_member('g', lock_dir=pathlib.Path(sys.argv[1]))\n"
            "print(claim.slot, flush=True)\n"
            "sys.stdin.read()\n",
            str(tmp_path),
        ],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "0"
        taken = claim_member("g", lock_dir=tmp_path)
        assert taken is not None and taken.slot == 1  # slot 0 is held by the live child
        taken.release()
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        back = claim_member("g", lock_dir=tmp_path)
        assert back is not None and back.slot == 0
        back.release()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(10)
        for pipe in (holder.stdin, holder.stdout):
            if pipe is not None:
                pipe.close()
