"""The rooms of docs/architecture.md, checked on the source and on the packages themselves.

- Each room imports only the rooms it may (the SDK must never pull in Faust or
  ClickHouse; the pure core never the front).
- No product module imports another package's private (``_name``) module: what
  a room offers the others is its ``__all__``.
- Each package's public surface is read off the package (httpx's
  exported-members habit): every public name it binds is in a sorted
  ``__all__``, and every ``__all__`` entry exists. A new public name without an
  ``__all__`` entry fails here, as does a name the other rooms need but the
  package does not export (the private-import check above).
"""

from __future__ import annotations

import ast
import importlib
import types
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).parents[2]

#: Room -> (its folder in the checkout, the packages of ours it may import).
ROOMS: dict[str, tuple[str, frozenset[str]]] = {
    "tracestream.schemas": ("schemas", frozenset()),
    "tracestream.producers": ("producers", frozenset({"tracestream.schemas"})),
    "tracestream.streams": ("streams", frozenset({"tracestream.schemas"})),
    # The runtimes publish with the receiver's mechanism (producers.queue_record_batches).
    "tracestream.streams.runtime": (
        "streams/runtime",
        frozenset({"tracestream.schemas", "tracestream.streams", "tracestream.producers"}),
    ),
    "tracestream.sinks": ("sinks", frozenset({"tracestream.schemas"})),
    "tracestream.demo": ("demo", frozenset({"tracestream.schemas", "tracestream.producers"})),
    "tracestream.broker": ("deploy/kafka", frozenset({"tracestream.schemas"})),
    "tracestream.replay": (
        "replay",
        frozenset({"tracestream.schemas", "tracestream.streams", "tracestream.sinks"}),
    ),
    "tracestream.ui": ("ui", frozenset({"tracestream.schemas", "tracestream.sinks"})),
}
#: The front may import every room, through their public names only.
FRONT = "tracestream"
PACKAGES = [*ROOMS, "tracestream.producers.otlp", FRONT]


def _modules() -> list[tuple[str, Path]]:
    """(room, path) of every product module, the front's ``tracestream/`` and ``cli/`` included."""
    found = [
        (room, path)
        for room, (folder, _) in ROOMS.items()
        for path in sorted((ROOT / folder).rglob("*.py"))
        if _room_of(_package_of(path)) == room  # a room's subroom holds its own files
    ]
    front = [p for p in (ROOT / "tracestream").rglob("*.py") if not p.parent.is_symlink()]
    # rglob does not follow the symlinked rooms (tracestream/schemas -> ../schemas ...).
    found += [(FRONT, p) for p in sorted(front)]
    return found


def _package_of(path: Path) -> str:
    """The dotted package a module file belongs to (``tracestream.streams.runtime``...)."""
    rel = path.parent.relative_to(ROOT)
    for room, (folder, _) in ROOMS.items():
        if rel == Path(folder) or Path(folder) in rel.parents:
            tail = rel.relative_to(folder).parts
            return ".".join((room, *tail))
    return ".".join(rel.parts)


def _imports(path: Path) -> set[str]:
    """Absolute names of our modules and names that ``path`` imports."""
    package = _package_of(path)
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            bases = [alias.name for alias in node.names]
            found.update(bases)
            continue
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            parts = package.split(".")
            parts = parts[: len(parts) - node.level + 1]
            base = ".".join([*parts, node.module] if node.module else parts)
        else:
            base = node.module or ""
        found.add(base)
        found.update(f"{base}.{alias.name}" for alias in node.names)
    return {n for n in found if n == "tracestream" or n.startswith("tracestream.")}


def _room_of(name: str) -> str:
    for room in sorted(ROOMS, key=len, reverse=True):
        if name == room or name.startswith(room + "."):
            return room
    return FRONT


MODULES = _modules()


def test_every_room_has_modules() -> None:
    assert {room for room, _ in MODULES} == {*ROOMS, FRONT}


@pytest.mark.parametrize("room", sorted(ROOMS))
def test_room_imports_only_the_rooms_it_may(room: str) -> None:
    allowed = ROOMS[room][1] | {room}
    bad = sorted(
        f"{path.relative_to(ROOT)}: {name}"
        for r, path in MODULES
        if r == room
        for name in _imports(path)
        if _room_of(name) not in allowed
    )
    assert not bad, "imports that break the rooms' rules:\n" + "\n".join(bad)


def test_no_module_imports_another_packages_private_module() -> None:
    bad = []
    for _, path in MODULES:
        mine = _package_of(path)
        for name in _imports(path):
            parts = name.split(".")
            for depth, part in enumerate(parts):
                if not part.startswith("_"):
                    continue
                owner = ".".join(parts[:depth])
                # A private module (or name) is the business of its own package only:
                # the owner itself, or a subpackage of it.
                if not (mine == owner or mine.startswith(owner + ".")):
                    bad.append(f"{path.relative_to(ROOT)}: {name}")
                break
    assert not bad, "imports of another package's private module:\n" + "\n".join(sorted(bad))


def _public_names(module: types.ModuleType) -> set[str]:
    """Names the package binds that are neither private, submodules nor ``annotations``."""
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name != "annotations"  # from __future__ import annotations
    }


@pytest.mark.parametrize("package", PACKAGES)
def test_public_surface_is_all_and_only_all(package: str) -> None:
    module = importlib.import_module(package)
    exported = list(module.__all__)
    assert len(set(exported)) == len(exported), f"{package}.__all__ repeats a name"
    missing = sorted(name for name in exported if not hasattr(module, name))
    assert not missing, f"{package}.__all__ names what it does not define: {missing}"
    unlisted = sorted(_public_names(module) - set(exported))
    assert not unlisted, f"{package} binds public names missing from __all__: {unlisted}"


def test_importing_the_sdk_pulls_no_pipeline_dependency() -> None:
    """A service that installs only the SDK must not need Faust, ClickHouse or Prometheus."""
    import subprocess
    import sys

    code = (
        "import sys, tracestream, tracestream.producers; "
        "heavy = {'faust', 'chdb', 'clickhouse_connect', 'prometheus_client', 'msgspec', 'pyarrow'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == "[]", done.stdout
