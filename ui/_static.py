"""The pages' own files, read once when the app is built and answered from memory.

Starlette's ``StaticFiles`` stats, opens and reads each file on a worker
thread: three thread hops per request, each waiting for the GIL while a big
trace is laid out on another thread. The Trace page asks for ten files while
its data is computed, and on the shared 2-core host they arrived up to
300 ms after they were asked for, holding the page back as much as the data
(issue 13: a 10,000-span trace drawn within 1 s). From memory a file is one
step on the event loop. The files are a few dozen kilobytes, shipped with the
package; a change to them needs a restart of the explorer.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

__all__ = ["StaticFile", "read_static_files", "static_response"]

_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}


@dataclass(frozen=True, slots=True)
class StaticFile:
    """One file's bytes, its media type and its entity tag (a hash of the bytes)."""

    body: bytes
    media_type: str
    etag: str


def read_static_files(directory: Path) -> dict[str, StaticFile]:
    """Every file under ``directory``, by its path relative to it (``js/app.js``)."""
    files = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        body = path.read_bytes()
        media_type = _TYPES.get(path.suffix) or (
            mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        )
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        files[path.relative_to(directory).as_posix()] = StaticFile(body, media_type, etag)
    return files


def static_response(files: dict[str, StaticFile], name: str, request: Request) -> Response:
    """``name``'s file for ``request``: 200 with its bytes, 304 when the browser's copy
    is current (``If-None-Match``), 404 when there is no such file.

    Browsers revalidate every time (``no-cache``), so a new version is never
    served stale.
    """
    found = files.get(name)
    if found is None:
        return PlainTextResponse("Not Found", status_code=404)
    headers = {"Cache-Control": "no-cache", "ETag": found.etag}
    if found.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(found.body, media_type=found.media_type, headers=headers)
