"""The import rules of ARCHITECTURE.md ("Layout"), checked on the source.

schemas imports nothing of ours; producers, streams and sinks import schemas
(and the shared error root ``tracestream._errors``) but never each other nor
the CLI shell. A violation would, for instance, pull Faust into a service
that only installs the SDK.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).parents[2]
ALLOWED = {
    "schemas": set(),
    "producers": {"tracestream.schemas", "tracestream._errors"},
    "streams": {"tracestream.schemas", "tracestream._errors"},
    "sinks": {"tracestream.schemas", "tracestream._errors"},
}


def _our_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.ImportFrom) and node.level >= 2:
            names = ["tracestream." + (node.module or "")]  # relative import leaving the package
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found.update(n for n in names if n == "tracestream" or n.startswith("tracestream."))
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_the_layout_allows(package: str) -> None:
    allowed = ALLOWED[package]
    bad = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in sorted((ROOT / package).glob("*.py"))
        for name in _our_imports(path)
        if not any(name == a or name.startswith(a + ".") for a in allowed)
        and not name.startswith(f"tracestream.{package}")
    }
    assert not bad, "imports that break the layout rules:\n" + "\n".join(sorted(bad))
