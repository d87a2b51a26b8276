"""The pages ship whole, load nothing from elsewhere, and the API document matches the routes."""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest
from starlette.routing import Route

from tracestream.ui import STATIC_DIR, Reader, create_app, openapi_document

pytestmark = pytest.mark.unit

ROOT = Path(__file__).parents[3]
IMPORT_RE = re.compile(r"""(?:import|from)\s*(?:[\w{}\s,*]+from\s*|\(\s*)?["'](\.[^"']+)["']""")
STATIC_IMPORT_RE = re.compile(r"""^import\s[^"']*["']\./(\w+)\.js["']""", re.M)


def static_files() -> list[Path]:
    return sorted(p for p in STATIC_DIR.rglob("*") if p.is_file())


def test_every_module_import_resolves_to_a_shipped_file() -> None:
    scripts = sorted(STATIC_DIR.rglob("*.js"))
    assert scripts
    for script in scripts:
        for target in IMPORT_RE.findall(script.read_text(encoding="utf-8")):
            assert (script.parent / target).resolve().is_file(), f"{script.name}: {target}"
    index = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    # In attributes and in the boot script's lists alike.
    refs = re.findall(r'"/static/([^"]+)"', index)
    assert "js/app.js" in refs
    for ref in refs:
        assert (STATIC_DIR / ref).is_file(), ref


def _imports(name: str) -> set[str]:
    """The modules ``name`` loads with it: its static imports, theirs, and so on."""
    found: set[str] = set()
    todo = [name]
    while todo:
        text = (STATIC_DIR / "js" / f"{todo.pop()}.js").read_text(encoding="utf-8")
        for imported in STATIC_IMPORT_RE.findall(text):
            if imported not in found:
                found.add(imported)
                todo.append(imported)
    return found


def test_index_preloads_exactly_the_modules_of_the_first_page() -> None:
    # index.html's boot script preloads, for the page in the URL, app.js's imports and
    # the page's module with its imports: held here to app.js's routes and the imports.
    index = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    app = (STATIC_DIR / "js" / "app.js").read_text(encoding="utf-8")
    routes = dict(re.findall(r'(\w+): async \(\) => \(await import\("\./(\w+)\.js"\)\)', app))
    assert set(routes) == {"traces", "trace", "overview", "anomalies", "sessions", "session"}
    preloaded = {
        page: set(re.findall(r'"(\w+)"', names))
        for page, names in re.findall(r"^\s*(\w+): \[([^\]]*)\],$", index, re.M)
    }
    common = re.search(r"for \(const name of \[([^\]]*)\.\.\.", index)
    assert common is not None
    assert set(re.findall(r'"(\w+)"', common.group(1))) == _imports("app")
    assert set(preloaded) == set(routes)
    for page, module in routes.items():
        assert preloaded[page] == ({module} | _imports(module)) - _imports("app"), page


def test_nothing_is_fetched_from_another_origin() -> None:
    # Works offline: no CDN, no remote font. The SVG namespace is a name, not a fetch.
    for path in static_files():
        text = path.read_text(encoding="utf-8")
        remote = [u for u in re.findall(r"https?://[^\s\"'`)]+", text)
                  if u != "http://www.w3.org/2000/svg"]  # fmt: skip
        assert not remote, (path.name, remote)
        assert "@import" not in text and "url(http" not in text


def test_stored_text_never_reaches_the_page_as_html() -> None:
    # Traces hold whatever users typed: every value goes in as a text node.
    for path in STATIC_DIR.rglob("*.js"):
        text = path.read_text(encoding="utf-8")
        assert "innerHTML" not in text and "outerHTML" not in text, path.name
        assert "insertAdjacentHTML" not in text and "document.write" not in text, path.name


def test_the_wheel_ships_every_static_file() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = config["tool"]["setuptools"]
    assert setuptools["package-dir"]["tracestream.ui"] == "ui"
    assert "tracestream.ui" in setuptools["packages"]
    globs = setuptools["package-data"]["tracestream.ui"]
    for path in static_files():
        rel = path.relative_to(STATIC_DIR.parent).as_posix()
        assert any(fnmatch(rel, g) and rel.count("/") == g.count("/") for g in globs), rel


def test_the_openapi_document_describes_exactly_the_api_routes() -> None:
    app = create_app(Reader(storage=None), scores=None)  # type: ignore[arg-type]
    routed = {
        (r.path, method.lower())
        for r in app.routes
        if isinstance(r, Route) and r.path.startswith("/api/")
        for method in (r.methods or set()) - {"HEAD"}
    }
    described = {
        (path, method) for path, item in openapi_document()["paths"].items() for method in item
    }
    assert routed == described
    for path, item in openapi_document()["paths"].items():
        for operation in item.values():
            named = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert named == set(re.findall(r"{(\w+)}", path)), path
