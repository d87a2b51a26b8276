"""A wheel that works: built, installed into a fresh virtualenv, run from an empty folder.

What a new user does, with nothing of the checkout in reach:

1. Build the wheel (``pip wheel --no-deps``) from a copy of the working tree's
   files (tracked and untracked, not ignored) in a temporary directory, so the
   build's ``build/`` and ``*.egg-info`` never land in the shared checkout.
2. Check what it ships: the pom, ``kafka.sh``, the migrations and the JSON Schema
   as package data, every product module of the checkout, and no benchmarks or tests.
3. Create a virtualenv in a temporary directory outside the checkout and
   install ``<wheel>[pipeline]`` into it.
4. From an empty folder, with ``TRACESTREAM_HOME`` in a temporary directory:
   ``tracestream kafka fetch`` (cold: the jars come from Maven Central through
   the shipped pom into ``<home>/cache``), ``tracestream kafka start``,
   ``tracestream demo --traces 20`` and ``tracestream query "SELECT count() FROM spans"``.
5. Check that everything was written under the home: the folder stays empty,
   the XDG directories stay untouched, the query server announced itself
   under the home, and nothing changed in the virtualenv after the install.

The [pipeline] dependencies (~280 MB of wheels) come from a wheelhouse in
``<repo>/.cache/wheelhouse``: pip's own HTTP cache stores nothing on this
machine (the package index answers without caching headers), so without it
every run would download them again. The first run fills it from PyPI; later
runs install offline, and refill it when a dependency changed.

The broker: the shared local broker (the ``kafka_bootstrap`` fixture starts it
through the checkout's starter when it is down). The wheel's ``kafka start``
therefore reuses it and starts no process, and the test stops nothing.
Timings of each step are printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tracestream._settings import Settings
from tracestream.broker import delete_topics_with_prefix

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]

REPO = Path(__file__).resolve().parents[2]
WHEELHOUSE = REPO / ".cache" / "wheelhouse"
TRACES = 20


@pytest.fixture
def worker_engine() -> str:
    """One run, on the default engine: the wheel is under test here, not the runtimes."""
    return "default"


class Steps:
    """Runs commands, times each step, and prints the timings as they come."""

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        began = time.monotonic()
        try:
            yield
        finally:
            print(f"[wheel] {name}: {time.monotonic() - began:.1f} s", flush=True)

    def run(
        self, cmd: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
        )
        assert done.returncode == 0, (
            f"{' '.join(cmd)} exited {done.returncode}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        )
        return done


def _copy_source_tree(dest: Path) -> None:
    """The files a clone of this working tree would have: tracked and untracked, not ignored."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for raw in filter(None, listed):
        rel = raw.decode()
        source = REPO / rel
        if not os.path.lexists(source):
            continue  # moved or deleted in the working tree, not committed yet
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)


def _package_dirs(pyproject: Path) -> dict[str, str]:
    """Installed package path -> source folder, from pyproject's package-dir mapping."""
    mapping: dict[str, str] = tomllib.loads(pyproject.read_text())["tool"]["setuptools"][
        "package-dir"
    ]
    return {package.replace(".", "/"): folder for package, folder in mapping.items()}


def _check_wheel_contents(wheel: Path, src: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped_outside = sorted(
        n
        for n in names
        if {"benchmarks", "tests"} & set(n.split("/"))
        or n.rsplit("/", 1)[-1].startswith(("test_", "conftest"))
    )
    assert not shipped_outside, f"the wheel ships benchmarks or tests: {shipped_outside}"
    migrations = {
        f"tracestream/sinks/migrations/{p.name}" for p in (src / "sinks/migrations").glob("*.sql")
    }
    data = {
        "tracestream/broker/pom.xml",
        "tracestream/broker/kafka.sh",
        "tracestream/schemas/event.schema.json",
        *migrations,
    }
    assert migrations and not data - names, f"package data missing: {sorted(data - names)}"
    # Every product module of the checkout, also in subpackages (a subpackage left
    # out of pyproject's `packages` is silently dropped from the wheel).
    # (rglob does not descend into tracestream/'s symlinks to the room folders.)
    expected = {
        f"{package}/{module.relative_to(src / folder).as_posix()}"
        for package, folder in _package_dirs(src / "pyproject.toml").items()
        for module in (src / folder).rglob("*.py")
    }
    assert not expected - names, f"modules missing from the wheel: {sorted(expected - names)}"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _install(steps: Steps, wheel: Path, venv_python: Path) -> None:
    """Install ``<wheel>[pipeline]`` offline from the wheelhouse, filling it first if needed."""
    install = [
        sys.executable, "-m", "pip", "--python", str(venv_python), "install", "--quiet",
        "--no-index", "--find-links", str(WHEELHOUSE), f"{wheel}[pipeline]",
    ]  # fmt: skip
    with _locked(WHEELHOUSE.with_suffix(".lock")):
        if subprocess.run(install, capture_output=True, check=False).returncode == 0:
            return
        with steps.step("fill the wheelhouse from PyPI (first run or changed dependencies)"):
            steps.run(
                [sys.executable, "-m", "pip", "download", "--quiet", "-d", str(WHEELHOUSE),
                 f"{wheel}[pipeline]"]
            )  # fmt: skip
            for ours in WHEELHOUSE.glob("tracestream-*.whl"):
                ours.unlink()
        steps.run(install)


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.lstat().st_size, p.lstat().st_mtime_ns)
        for p in root.rglob("*")
        if not p.is_dir() or p.is_symlink()
    }


def test_wheel_installs_and_runs_the_pipeline_from_an_empty_folder(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    began, steps = time.monotonic(), Steps()
    src, dist, venv = tmp_path / "src", tmp_path / "dist", tmp_path / "venv"
    assert REPO not in tmp_path.parents, "the test must run outside the checkout"

    with steps.step("copy the working tree and build the wheel"):
        _copy_source_tree(src)
        steps.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "--quiet",
                "-w",
                str(dist),
                str(src),
            ]
        )
    (wheel,) = dist.glob("tracestream-*.whl")
    _check_wheel_contents(wheel, src)

    with steps.step("create a virtualenv and install the wheel with [pipeline]"):
        # Without pip in the venv: the checkout's pip installs into it (`--python`),
        # which saves ensurepip's seconds and installs exactly the same files.
        steps.run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
        _install(steps, wheel, venv / "bin" / "python")
    (site_packages,) = venv.glob("lib/python3.*/site-packages")
    installed = _snapshot(venv)

    empty, home = tmp_path / "empty", tmp_path / "home"
    empty.mkdir()
    prefix = f"t-{uuid.uuid4().hex[:8]}."
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TRACESTREAM_", "XDG_", "PYTHON", "VIRTUAL_ENV"))
    }
    env.update(
        TRACESTREAM_HOME=str(home),
        # Where the defaults would go without TRACESTREAM_HOME: they must stay untouched.
        XDG_DATA_HOME=str(tmp_path / "xdg-data"),
        XDG_CACHE_HOME=str(tmp_path / "xdg-cache"),
        TRACESTREAM_KAFKA_BOOTSTRAP=kafka_bootstrap,
        # The shared broker: this run's topics and consumer groups apart from everyone's.
        TRACESTREAM_TOPIC_PREFIX=prefix,
        TRACESTREAM_SINK_GROUP_ID=f"{prefix}sink",
    )
    tracestream = str(venv / "bin" / "tracestream")
    try:
        located = steps.run(
            [
                str(venv / "bin" / "python"),
                "-c",
                "import tracestream.broker as b; print(b.__file__)",
            ],
            cwd=empty,
            env=env,
        )
        assert Path(located.stdout.strip()).is_relative_to(site_packages), located.stdout

        with steps.step("tracestream kafka fetch (cold, Maven, into <home>/cache)"):
            fetched = steps.run([tracestream, "kafka", "fetch"], cwd=empty, env=env)
        version = Settings.model_fields["kafka_version"].default
        lib = home / "cache" / "kafka" / version / "lib"
        assert f"into {lib}" in fetched.stdout, fetched.stdout
        assert (lib / ".complete").is_file() and len(list(lib.glob("kafka_*.jar"))) == 1

        with steps.step("tracestream kafka start"):
            started = steps.run([tracestream, "kafka", "start"], cwd=empty, env=env)
        assert "reusing" in started.stdout, started.stdout

        with steps.step(f"tracestream demo --traces {TRACES}"):
            demo_out = _run_demo(tracestream, empty, env, home, tmp_path / "demo.out")
        assert f"traces stored {TRACES}/{TRACES}" in demo_out, demo_out[-3000:]
        assert "tracestream ui" in demo_out and "/metrics" in demo_out, demo_out[-3000:]

        with steps.step('tracestream query "SELECT count() FROM spans"'):
            queried = steps.run(
                [tracestream, "query", "SELECT count() FROM spans"], cwd=empty, env=env
            )
        counts = [int(n) for n in re.findall(r"│\s*(\d+)\s*│", queried.stdout)]
        assert len(counts) == 1 and counts[0] > 0, queried.stdout
    finally:
        asyncio.run(delete_topics_with_prefix(kafka_bootstrap, prefix))

    assert list(empty.iterdir()) == [], "a command wrote into the working directory"
    assert not (tmp_path / "xdg-data").exists() and not (tmp_path / "xdg-cache").exists()
    assert (home / "chdb").is_dir() and (home / "demo-worker" / "worker.log").is_file()
    after = _snapshot(venv)
    changed = sorted(
        {p for p in after.keys() - installed.keys()}
        | {p for p in installed.keys() - after.keys()}
        | {p for p in installed.keys() & after.keys() if installed[p] != after[p]}
    )
    assert not changed, f"written in the virtualenv after the install: {changed[:20]}"
    print(f"[wheel] total: {time.monotonic() - began:.1f} s", flush=True)


def _run_demo(tracestream: str, cwd: Path, env: dict[str, str], home: Path, out: Path) -> str:
    """Run the demo; while it runs, its query server must announce itself under the home."""
    announced = False
    with out.open("w") as sink:
        proc = subprocess.Popen(
            [tracestream, "demo", "--traces", str(TRACES)],
            cwd=cwd,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            while proc.poll() is None:
                announced = announced or (home / "query-server.json").is_file()
                time.sleep(0.2)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    text = out.read_text()
    assert proc.returncode == 0, text[-4000:]
    assert announced, "the demo's query server did not announce itself in <home>/query-server.json"
    assert not (home / "query-server.json").exists(), "the discovery file outlived the demo"
    return text
