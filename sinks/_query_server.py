"""Embedded mode works like a server: the owner of a chDB directory serves reads.

chDB lets one process own a data directory and cannot open ClickHouse's own
listeners. So the process that owns it (the sink, or anything that holds the
storage open) runs a :class:`QueryServer`: a small stdlib HTTP server on the
loopback interface that answers read-only queries with Arrow. It announces
itself in a *discovery file* under the tracestream home::

    <home>/query-server.json   {"pid", "host", "port", "token", "database", ...}

Other processes (``tracestream query`` / ``analyze`` / ``export``) call
:func:`~._query_client.discover_query_server`; when it finds a live server
they talk to it through :class:`~._query_client.QueryServerClient`, which
implements the read half of the :class:`~tracestream.sinks.Storage` protocol.
When it finds none, they open the data directory themselves.

Protocol (HTTP/1.1, JSON in, Arrow IPC stream out)::

    GET  /health                      -> {"pid": ..., "database": ..., "commands": bool}
    POST /query {"sql", "params"}     -> 200 application/vnd.apache.arrow.stream
                                      -> 400/503 {"error", "code", "code_name", "retriable"}
    POST /command {"sql"}             -> 200 {"statement": the statement as run}
                                      -> 400/403/503 (the same error body)

Security: it binds 127.0.0.1 only; every request carries the random token from
the discovery file (written 0600, so only the same user can read it); every
query runs through :func:`run_readonly` (one statement, ``readonly = 2``).
``/command`` answers only on a server started with ``allow_commands`` (the
sink's: ``tracestream admin``), and runs operator statements only (ALTER,
OPTIMIZE, SYSTEM, KILL; :func:`~._admin.run_admin`). Whoever can read the
token is the user who owns the data directory, who could stop the sink and
open the directory anyway.

Stale files: a file whose pid is gone, or whose port refuses connections, is
removed by the discoverer; the owner removes its own file on
:meth:`QueryServer.stop`.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyarrow as pa

from ._admin import run_admin
from ._errors import StorageError
from ._readonly import run_readonly
from ._storage import Storage

__all__ = [
    "ARROW_STREAM",
    "QueryServer",
    "QueryServerInfo",
    "query_server_file",
]

#: The content type of a query's answer (an Arrow IPC stream).
ARROW_STREAM = "application/vnd.apache.arrow.stream"
_MAX_REQUEST_BYTES = 16 * 1024 * 1024


def query_server_file(home: Path) -> Path:
    """Where the owner of ``<home>/chdb`` announces its query server."""
    return Path(home) / "query-server.json"


@dataclass(frozen=True, slots=True)
class QueryServerInfo:
    """What a discovery file says: where the server is and how to authenticate."""

    pid: int
    host: str
    port: int
    token: str
    database: str
    data_dir: str

    @classmethod
    def read(cls, path: Path) -> QueryServerInfo | None:
        """Parse a discovery file; ``None`` when it is missing or unreadable."""
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                pid=int(raw["pid"]),
                host=str(raw["host"]),
                port=int(raw["port"]),
                token=str(raw["token"]),
                database=str(raw["database"]),
                data_dir=str(raw.get("data_dir", "")),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def write(self, path: Path) -> None:
        """Write atomically with mode 0600 (the token is a credential)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(asdict(self), fh)
        os.replace(tmp, path)


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return  # requests are not worth a log line each; errors go back to the caller

    def _authorized(self) -> bool:
        expected = f"Bearer {self.server.token}"
        if secrets.compare_digest(self.headers.get("Authorization", ""), expected):
            return True
        self._json(401, {"error": "missing or wrong token", "code": None, "retriable": False})
        return False

    def _json(self, status: int, body: Mapping[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path != "/health":
            self._json(404, {"error": "not found", "code": None, "retriable": False})
            return
        if self._authorized():
            self._json(
                200,
                {
                    "pid": os.getpid(),
                    "database": self.server.storage.database,
                    "commands": self.server.allow_commands,
                },
            )

    def do_POST(self) -> None:
        if self.path not in ("/query", "/command"):
            self._json(404, {"error": "not found", "code": None, "retriable": False})
            return
        if not self._authorized():
            return
        length = int(self.headers.get("Content-Length", "0"))
        if not 0 < length <= _MAX_REQUEST_BYTES:
            self._json(413, {"error": "bad request size", "code": None, "retriable": False})
            return
        try:
            request = json.loads(self.rfile.read(length))
            sql = str(request["sql"])
            params = request.get("params") or None
        except (ValueError, KeyError, TypeError) as exc:
            self._json(400, {"error": f"bad request: {exc}", "code": None, "retriable": False})
            return
        if self.path == "/command" and not self.server.allow_commands:
            self._json(
                403,
                {
                    "error": "this process serves read-only queries; operator statements "
                    "run through a running `tracestream sink`",
                    "code": None,
                    "retriable": False,
                },
            )
            return
        try:
            if self.path == "/command":
                self._json(200, {"statement": run_admin(self.server.storage, sql)})
                return
            table = run_readonly(self.server.storage, sql, params)
        except StorageError as exc:
            status = 503 if exc.retriable else 400
            self._json(
                status,
                {
                    "error": str(exc),
                    "code": exc.code,
                    "code_name": exc.code_name,
                    "retriable": exc.retriable,
                },
            )
            return
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        data = sink.getvalue().to_pybytes()
        self.send_response(200)
        self.send_header("Content-Type", ARROW_STREAM)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], storage: Storage, token: str, *, allow_commands: bool
    ) -> None:
        super().__init__(address, _Handler)
        self.storage = storage
        self.token = token
        self.allow_commands = allow_commands


class QueryServer:
    """Serve read-only queries on an open storage to other local processes.

    Args:
        storage: an opened storage this process owns (usually chDB).
        discovery_path: the file to announce the server in
            (:func:`query_server_file` of the home).
        host: address to bind; loopback by default, and it should stay so.
        port: TCP port; 0 picks a free one (the discovery file says which).
        data_dir: written to the discovery file for humans; informational.
        allow_commands: also run operator statements (``POST /command``,
            :func:`~._admin.run_admin`). Off by default; the sink turns it on,
            being the one process an embedded deployment's operator can reach.

    ``start`` binds and returns at once (requests are served on a daemon
    thread); ``stop`` blocks until the serving thread ended. Safe to use as a
    context manager.
    """

    def __init__(
        self,
        storage: Storage,
        *,
        discovery_path: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        data_dir: str = "",
        allow_commands: bool = False,
    ) -> None:
        self._storage = storage
        self._allow_commands = allow_commands
        self._path = Path(discovery_path)
        self._host = host
        self._port = port
        self._data_dir = data_dir
        self._server: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        self.info: QueryServerInfo | None = None

    def start(self) -> QueryServerInfo:
        """Bind, write the discovery file and serve in the background.

        Raises:
            OSError: the port is taken.
        """
        token = secrets.token_urlsafe(24)
        server = _HttpServer(
            (self._host, self._port), self._storage, token, allow_commands=self._allow_commands
        )
        host, port = server.server_address[:2]
        info = QueryServerInfo(
            pid=os.getpid(),
            host=str(host),
            port=int(port),
            token=token,
            database=self._storage.database,
            data_dir=self._data_dir,
        )
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name="tracestream-query-server", daemon=True
        )
        self._thread.start()
        info.write(self._path)
        self.info = info
        return info

    def stop(self) -> None:
        """Remove the discovery file (if still ours), stop serving. Idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        current = QueryServerInfo.read(self._path)
        if current is not None and self.info is not None and current.token == self.info.token:
            with contextlib.suppress(FileNotFoundError):
                self._path.unlink()
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> QueryServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
