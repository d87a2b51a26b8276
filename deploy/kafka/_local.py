"""A real, local Apache Kafka broker for development and the test suite.

One combined broker+controller (KRaft, ``process.roles=broker,controller``)
on a :class:`Layout`'s host and port; the controller listens on that port + 1.
The jars come from Maven Central (``pom.xml``, shipped beside this module as
package data, so a wheel fetches as a checkout does) into the layout's cache
directory; the broker runs on the machine's ``java`` (17+). No Docker, no fakes.

This module is the ONE implementation of fetch / format / start / stop /
status; ``deploy/kafka/kafka.sh`` and the ``tracestream kafka`` CLI only call
it (``python -m tracestream.cli._kafka <command>``). It takes typed values
(a :class:`Layout`, a heap size); the front builds them from its settings.

Files, under ``Layout.cache_dir``::

    kafka/<version>/lib/            the jars (+ .complete when fetched)
    kafka/<version>/run-<port>/     server.properties, log4j2.xml, kafka.pid,
                                    start.lock, data/ (KRaft log dirs),
                                    logs/server.log, logs/console.log

Who may call what: every function here blocks (subprocesses, sockets) and
must not be called from a coroutine except :func:`ensure_topics`, which is a
coroutine. Errors are :class:`KafkaLocalError`; the message says what
failed and ends with the tail of the broker log when there is one.

``start`` is idempotent and safe to run concurrently from several processes
(a file lock serialises them): a healthy broker already answering on the
address is reused, whoever started it. ``stop`` only stops the broker this
layout started (its pid file, or a ``kafka.Kafka`` process using its
``server.properties``).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ._errors import KafkaLocalError
from ._probe import broker_ready, first_server
from ._topics import ensure_topics

__all__ = [
    "BrokerStatus",
    "KafkaLocalError",
    "Layout",
    "broker_ready",
    "ensure_topics",
    "fetch",
    "format_storage",
    "start",
    "status",
    "stop",
]

# Shipped beside this module (package data), in a checkout and in the wheel alike.
POM = Path(__file__).resolve().parent / "pom.xml"
EXIT_NOT_RUNNING = 3

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True, slots=True)
class Layout:
    """Where one local broker keeps its jars, config, data, logs and pid.

    Build it with :meth:`for_bootstrap`, which resolves ``cache_dir``: the
    ``server.properties`` path in the broker's command line is how
    :func:`status` and :func:`stop` recognise their broker, so it must not
    depend on the working directory or on a symlink in the path.
    """

    version: str
    host: str
    port: int
    cache_dir: Path

    @classmethod
    def for_bootstrap(cls, bootstrap: str, version: str, cache_dir: Path) -> Layout:
        """The layout of a broker listening on the first server of ``bootstrap``.

        Touches no file; a relative ``cache_dir`` is taken from the working directory.
        """
        host, port = first_server(bootstrap)
        return cls(version, host, port, Path(cache_dir).resolve())

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def lib(self) -> Path:
        return self.cache_dir / "kafka" / self.version / "lib"

    @property
    def run(self) -> Path:
        return self.cache_dir / "kafka" / self.version / f"run-{self.port}"

    @property
    def data(self) -> Path:
        return self.run / "data"

    @property
    def properties(self) -> Path:
        return self.run / "server.properties"

    @property
    def pid_file(self) -> Path:
        return self.run / "kafka.pid"

    @property
    def log_file(self) -> Path:
        return self.run / "logs" / "server.log"

    @property
    def console_file(self) -> Path:
        return self.run / "logs" / "console.log"


@dataclass(frozen=True, slots=True)
class BrokerStatus:
    """What :func:`status` and :func:`start` found.

    ``healthy``: a broker answers metadata at ``bootstrap``. ``pid``: our
    broker process, if one runs (None when the healthy broker is somebody
    else's). ``reused``: :func:`start` found it already running.
    """

    bootstrap: str
    healthy: bool
    pid: int | None
    log_file: Path
    reused: bool = False

    def describe(self) -> str:
        if not self.healthy and self.pid is None:
            return f"kafka: not running at {self.bootstrap}"
        owner = f"pid {self.pid}" if self.pid is not None else "not started by us"
        state = "healthy" if self.healthy else "NOT answering"
        return f"kafka: {state}, listening on {self.bootstrap} ({owner}), log {self.log_file}"


# --- fetch / format -------------------------------------------------------


def fetch(layout: Layout, progress: Progress = _quiet) -> Path:
    """Copy Kafka, kafka-tools and a log4j2 backend from Maven Central into ``layout.lib``.

    Idempotent: returns at once when ``lib/.complete`` exists. Needs ``mvn``.
    Raises KafkaLocalError when Maven fails (its output is in the message).
    """
    stamp = layout.lib / ".complete"
    if stamp.is_file():
        return layout.lib
    if not POM.is_file():
        raise KafkaLocalError(f"{POM} is missing: the installed tracestream is incomplete")
    tmp = layout.lib.with_name("lib.tmp")
    progress(f"kafka: fetching Apache Kafka {layout.version} jars with Maven into {layout.lib}")
    started = time.monotonic()
    cmd = [
        "mvn", "-B", "-q", "-f", str(POM), f"-Dkafka.version={layout.version}",
        "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies",
        "-DincludeScope=runtime", f"-DoutputDirectory={tmp}",
    ]  # fmt: skip
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise KafkaLocalError("mvn not found on PATH: install Maven to fetch Kafka") from None
    if done.returncode != 0:
        tail = (done.stdout + done.stderr)[-3000:]
        raise KafkaLocalError(f"mvn failed (exit {done.returncode}):\n{tail}")
    if layout.lib.exists():
        for old in layout.lib.iterdir():
            old.unlink()
        layout.lib.rmdir()
    tmp.rename(layout.lib)
    stamp.write_text(f"{layout.version}\n")
    jars = len(list(layout.lib.glob("*.jar")))
    progress(f"kafka: fetched {jars} jars in {time.monotonic() - started:.1f}s")
    return layout.lib


def _java_cmd(layout: Layout, heap_mb: int, main: str, *args: str) -> list[str]:
    return [
        "java", f"-Xms{heap_mb}m", f"-Xmx{heap_mb}m", "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={layout.run / 'log4j2.xml'}",
        f"-Dkafka.logs.dir={layout.log_file.parent}",
        "-cp", f"{layout.lib}/*", main, *args,
    ]  # fmt: skip


def _write_config(layout: Layout) -> None:
    layout.log_file.parent.mkdir(parents=True, exist_ok=True)
    h, p, c = layout.host, layout.port, layout.port + 1
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.bootstrap.servers": f"{h}:{c}",
        "listeners": f"PLAINTEXT://{h}:{p},CONTROLLER://{h}:{c}",
        "advertised.listeners": f"PLAINTEXT://{h}:{p},CONTROLLER://{h}:{c}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(layout.data),
        "num.partitions": "1",
        "auto.create.topics.enable": "false",
        "group.initial.rebalance.delay.ms": "0",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "min.insync.replicas": "1",
        "default.replication.factor": "1",
    }
    text = "".join(f"{k}={v}\n" for k, v in props.items())
    layout.properties.write_text("# written by tracestream.broker._local\n" + text)
    (layout.run / "log4j2.xml").write_text(_LOG4J2.format(log=layout.log_file))


_LOG4J2 = """<?xml version="1.0" encoding="UTF-8"?>
<!-- written by tracestream.broker._local: broker log to a file, nothing on the console -->
<Configuration status="warn">
  <Appenders>
    <RollingFile name="file" fileName="{log}" filePattern="{log}.%i">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
      <SizeBasedTriggeringPolicy size="50MB"/>
      <DefaultRolloverStrategy max="3"/>
    </RollingFile>
  </Appenders>
  <Loggers>
    <Logger name="kafka.request.logger" level="warn"/>
    <Logger name="org.apache.kafka.controller" level="info"/>
    <Root level="info"><AppenderRef ref="file"/></Root>
  </Loggers>
</Configuration>
"""


def _new_cluster_id() -> str:
    """A random KRaft cluster id, as Kafka's own ``Uuid.randomUuid`` makes them.

    The storage tool parses its arguments as options: an id starting with ``-``
    (one in 64 of the base64 forms) is read as an unknown flag and the format
    fails, so such ids are drawn again, as Kafka does.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def format_storage(layout: Layout, heap_mb: int = 256, progress: Progress = _quiet) -> bool:
    """KRaft-format ``layout.data`` (``StorageTool format --standalone``) unless done already.

    Returns True when it formatted. Needs the jars (call :func:`fetch` first).
    """
    _write_config(layout)
    if (layout.data / "meta.properties").is_file():
        return False
    cluster_id = _new_cluster_id()
    progress(f"kafka: formatting {layout.data} (cluster {cluster_id})")
    args = ("format", "-t", cluster_id, "-c", str(layout.properties), "--standalone", "-g")
    done = subprocess.run(
        _java_cmd(layout, min(heap_mb, 256), "kafka.tools.StorageTool", *args),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise KafkaLocalError(f"StorageTool format failed:\n{(done.stdout + done.stderr)[-3000:]}")
    return True


# --- process management ---------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rpartition(")")[2].split()[0] != "Z"
    return True


def _is_our_broker(pid: int, layout: Layout) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"kafka.Kafka" in cmdline and str(layout.properties).encode() in cmdline


def _our_pid(layout: Layout) -> int | None:
    """The pid of this layout's broker: from the pid file, else by scanning /proc."""
    with contextlib.suppress(OSError, ValueError):
        pid = int(layout.pid_file.read_text().strip())
        if _alive(pid) and _is_our_broker(pid, layout):
            return pid
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _is_our_broker(int(entry.name), layout):
            if _alive(int(entry.name)):
                return int(entry.name)
    return None


def _log_tail(layout: Layout, lines: int = 40) -> str:
    parts = []
    for path in (layout.console_file, layout.log_file):
        with contextlib.suppress(OSError):
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            if tail:
                parts.append(f"--- tail of {path} ---\n" + "\n".join(tail))
    return "\n".join(parts) or "(no broker log yet)"


@contextlib.contextmanager
def _lock(layout: Layout) -> Iterator[None]:
    layout.run.mkdir(parents=True, exist_ok=True)
    with open(layout.run / "start.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def status(layout: Layout) -> BrokerStatus:
    """Whether a broker answers at ``layout.bootstrap`` and whether it is ours. Blocks ≤ ~2 s."""
    healthy = broker_ready(layout.bootstrap, 0)
    return BrokerStatus(layout.bootstrap, healthy, _our_pid(layout), layout.log_file)


def start(
    layout: Layout, *, heap_mb: int, timeout_s: float = 60.0, progress: Progress = _quiet
) -> BrokerStatus:
    """Start the local broker (fetching and formatting first if needed) and wait until it answers.

    Idempotent: a healthy broker at the address (ours or anybody's) is reused
    (``reused=True``), and then nothing is fetched. The broker runs detached in
    its own session with a Java heap of ``heap_mb`` and outlives the caller.
    Blocks up to ``timeout_s`` for readiness.

    Raises:
        KafkaLocalError: mvn/java failed, the port is taken by something that
            is not a healthy broker, or the broker did not answer in time
            (the message ends with the broker log tail; the process is killed).
    """
    if broker_ready(layout.bootstrap, 0):
        return BrokerStatus(layout.bootstrap, True, _our_pid(layout), layout.log_file, True)
    with _lock(layout):
        pid = _our_pid(layout)
        if pid is not None or broker_ready(layout.bootstrap, 0):
            # Another process started it while we waited for the lock.
            if broker_ready(layout.bootstrap, timeout_s):
                return BrokerStatus(layout.bootstrap, True, pid, layout.log_file, True)
            raise KafkaLocalError(f"broker pid {pid} does not answer\n{_log_tail(layout)}")
        for port in (layout.port, layout.port + 1):
            with socket.socket() as probe, contextlib.suppress(OSError):
                probe.settimeout(1.0)
                if probe.connect_ex((layout.host, port)) == 0:
                    raise KafkaLocalError(
                        f"{layout.host}:{port} is taken by something that is not a healthy "
                        "Kafka broker; free it or set TRACESTREAM_KAFKA_BOOTSTRAP to another port"
                    )
        fetch(layout, progress)
        format_storage(layout, heap_mb, progress)
        progress(f"kafka: starting broker+controller on {layout.bootstrap} (log {layout.log_file})")
        began = time.monotonic()
        pid = _spawn_detached(
            _java_cmd(layout, heap_mb, "kafka.Kafka", str(layout.properties)),
            layout,
        )
        layout.pid_file.write_text(f"{pid}\n")
        while time.monotonic() - began < timeout_s:
            if not _alive(pid):
                layout.pid_file.unlink(missing_ok=True)
                raise KafkaLocalError(f"broker exited during startup\n{_log_tail(layout)}")
            if broker_ready(layout.bootstrap, 0):
                progress(f"kafka: ready in {time.monotonic() - began:.1f}s (pid {pid})")
                return BrokerStatus(layout.bootstrap, True, pid, layout.log_file)
            time.sleep(0.3)
        _terminate(pid, 10.0)
        layout.pid_file.unlink(missing_ok=True)
        raise KafkaLocalError(
            f"broker did not answer on {layout.bootstrap} within {timeout_s:.0f}s\n{_log_tail(layout)}"
        )


def _spawn_detached(cmd: list[str], layout: Layout) -> int:
    """Run ``cmd`` in a new session, orphaned (not our child), output to the console log.

    A shell backgrounds it and exits at once, so the broker outlives us, leaves
    no zombie in the caller and no ``Popen`` whose finaliser would warn.
    """
    script = 'exec "$@" </dev/null >>"$LOG" 2>&1 &\necho $!'
    done = subprocess.run(
        ["sh", "-c", script, "sh", *cmd],
        env={**os.environ, "LOG": str(layout.console_file)},
        cwd=layout.run,
        capture_output=True,
        text=True,
        check=False,
        start_new_session=True,
    )
    if done.returncode != 0 or not done.stdout.strip().isdigit():
        raise KafkaLocalError(f"could not launch java: {done.stderr.strip()}")
    return int(done.stdout.strip())


def _signal(pid: int, sig: signal.Signals) -> None:
    """Signal the broker's process group when it has its own, else the process."""
    with contextlib.suppress(ProcessLookupError):
        group = os.getpgid(pid)
        if group != os.getpgrp():
            os.killpg(group, sig)
        else:
            os.kill(pid, sig)


def _terminate(pid: int, grace_s: float) -> None:
    """SIGTERM the broker, wait ``grace_s``, then SIGKILL it."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        _signal(pid, sig)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if not _alive(pid):
                return
            time.sleep(0.1)


def stop(layout: Layout, grace_s: float = 30.0, progress: Progress = _quiet) -> bool:
    """Stop the broker this layout started; True if one was stopped.

    Idempotent: no broker of ours → False. Never touches a broker somebody
    else started (nor one started from another layout). Blocks up to
    ``grace_s`` + 5 s.
    """
    pid = _our_pid(layout)
    if pid is None:
        layout.pid_file.unlink(missing_ok=True)
        return False
    progress(f"kafka: stopping broker pid {pid}")
    _terminate(pid, grace_s)
    if _alive(pid):
        raise KafkaLocalError(f"broker pid {pid} survived SIGKILL")
    layout.pid_file.unlink(missing_ok=True)
    return True
