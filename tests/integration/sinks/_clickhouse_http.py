"""A loopback ClickHouse HTTP endpoint that records every request and answers it with chDB.

No ClickHouse server can run on this machine, so the server engine
(:class:`~tracestream.sinks.ServerStorage`, clickhouse-connect over HTTP) is
proven this way: the endpoint keeps each request exactly as it arrived (URL
parameters, headers, SQL text, body bytes) and executes the same statement and
body on chDB (the embedded engine, same ClickHouse version), answering with the
bytes chDB produced in the format the client asked for. A statement the engine
refuses comes back as ClickHouse answers an error: a non-200 status, the
``Code: N. DB::Exception`` text, and ``X-ClickHouse-Exception-Code``.

What follows ClickHouse's HTTP interface
(https://clickhouse.com/docs/interfaces/http):

- the SQL is the ``query`` URL parameter, else the body; with both, the body is
  the statement's input data when the statement ends in ``FORMAT <name>``
  (an INSERT's data), else the rest of the SQL;
- ``database`` is the default database, ``default_format`` the output format
  unless the SQL has a FORMAT clause (default ``TabSeparated``), ``param_<name>``
  the query parameters, and every other URL parameter not in
  :data:`TRANSPORT_PARAMS` is a setting for this query;
- a request body with ``Content-Encoding`` is decompressed first.

Where chDB needs another spelling for the same work, the executed text
(``RecordedRequest.executed``) says what ran: input data is written to a file
that the statement reads (``FROM INFILE`` for ``INSERT ... FORMAT``, a
``file()`` in place of ``input()``), with the format and structure the request
named, so chDB parses exactly the bytes that were sent. Each request runs on a
fresh chDB connection (settings and the default database last one request, as
on a server without a session); requests run one at a time.

Not emulated: the ``X-ClickHouse-Summary`` counters (optional to the client,
unread by the storage), sessions (``session_id``), ``client_protocol_version`` (the
client's probe sees a plain Native block and stays on protocol 0), response
compression (answers are sent uncompressed, which the client accepts), and
ClickHouse's own compressed framing (``decompress=1``, refused with 501).
"""

from __future__ import annotations

import contextlib
import gzip
import re
import socket
import tempfile
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import chdb
import cramjam

__all__ = ["TRANSPORT_PARAMS", "RecordedRequest", "RecordingClickHouse"]

#: URL parameters of the HTTP interface that are not settings of the query.
TRANSPORT_PARAMS = frozenset(
    {
        "query",
        "database",
        "default_format",
        "session_id",
        "session_timeout",
        "session_check",
        "query_id",
        "quota_key",
        "compress",
        "decompress",
        "user",
        "password",
        "buffer_size",
        "wait_end_of_query",
        "client_protocol_version",
        "role",
    }
)

_DECODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.decompress,
    "deflate": zlib.decompress,
    "lz4": lambda body: bytes(cramjam.lz4.decompress(body)),  # the LZ4 frame format
    "zstd": lambda body: bytes(cramjam.zstd.decompress(body)),
}
_INSERT_DATA_RE = re.compile(r"^(?P<head>.*?)\s+FORMAT\s+(?P<format>\w+)\s*;?\s*$", re.S | re.I)
_INPUT_RE = re.compile(r"\binput\s*\(\s*(?P<structure>'(?:[^'\\]|\\.)*')\s*\)", re.I)
_FORMAT_CLAUSE_RE = re.compile(r"\bFORMAT\s+(?P<format>\w+)\s*;?\s*$", re.I)
_CODE_RE = re.compile(r"Code:\s*(\d+)")
# ClickHouse's HTTP status for some exception codes (HTTPHandler.cpp); the rest are 500.
_STATUS_OF_CODE = {62: 400, 47: 400, 60: 404, 81: 404, 164: 403, 497: 403}


@dataclass
class RecordedRequest:
    """One HTTP request as it arrived, and what chDB did with it."""

    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    #: The body as received (after chunked transfer decoding, before Content-Encoding).
    body: bytes
    sql: str = ""
    #: Input data of the statement (decompressed), or None when the body was SQL.
    data: bytes | None = None
    database: str | None = None
    settings: dict[str, str] = field(default_factory=dict)
    query_params: dict[str, str] = field(default_factory=dict)
    #: The output format of the answer.
    format: str = "TabSeparated"
    #: The statement chDB ran (see the module docstring for when it differs from ``sql``).
    executed: str = ""
    status: int = 0
    error: str | None = None
    answer: bytes = b""

    @property
    def statement(self) -> str:
        """The SQL text with whitespace runs made single spaces, for comparisons."""
        return " ".join(self.sql.split())


class RecordingClickHouse:
    """Serve ClickHouse's HTTP interface on 127.0.0.1 over a chDB data directory.

    Use as a context manager; ``url`` is the address to give clickhouse-connect.
    ``requests`` lists every request received, in order. :meth:`stop` and
    :meth:`restart` take it away and bring it back on the same port (a storage
    outage under a client that keeps its URL). The chDB directory
    may be open in this process already (another connection to the same path,
    as :class:`~tracestream.sinks.ChdbStorage` holds): chDB allows one
    directory per process, many connections to it.
    """

    def __init__(self, chdb_path: Path) -> None:
        self._path = str(Path(chdb_path).absolute())
        self._lock = threading.Lock()
        self._records: list[RecordedRequest] = []
        self._files = tempfile.TemporaryDirectory(prefix="ch-http-bodies-")
        self._anchor: Any = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._port = 0
        # Its own lock: requests hold ``_lock`` while chDB runs them.
        self._connections_lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        # Handler threads still running (a request read before a stop may still
        # be executing on chDB): stop() waits for them, under this condition.
        self._handlers = 0
        self._handlers_done = threading.Condition(self._connections_lock)

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        host, port = self._server.server_address[:2]
        return f"http://default:@{host!s}:{port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        """Forget the requests recorded so far."""
        with self._lock:
            self._records.clear()

    def __enter__(self) -> RecordingClickHouse:
        # Held for the endpoint's life so the directory stays open between requests.
        self._anchor = _connect(self._path)
        self._listen(0)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._close()
        if self._anchor is not None:
            self._anchor.close()
        self._files.cleanup()

    def stop(self, *, timeout_s: float = 30.0) -> None:
        """Go away like a stopped server: the port refuses, open connections are cut.

        Returns once no request is executing any more, so what is stored when
        it returns stays as it is until :meth:`restart` (a request the server
        had read before the cut may still run to its end, its answer lost: the
        fault tests saw an insert land seconds after the stop under load).
        The data directory stays open here; :meth:`restart` serves it again.
        """
        self._close()
        deadline = time.monotonic() + timeout_s
        with self._handlers_done:
            while self._handlers:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"requests still executing {timeout_s}s after the stop")
                # A connection accepted just before the listener closed registers late.
                for connection in self._connections:
                    with contextlib.suppress(OSError):
                        connection.shutdown(socket.SHUT_RDWR)
                self._handlers_done.wait(0.1)

    def restart(self, *, timeout_s: float = 10.0) -> None:
        """Listen again on the port of the :meth:`stop`-ped endpoint, so ``url`` is unchanged.

        Raises:
            OSError: the port stayed taken for ``timeout_s``.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self._listen(self._port)
                return
            except OSError:
                # A connection of another process may hold the port for a moment.
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def _listen(self, port: int) -> None:
        endpoint = self

        class Handler(_Handler):
            def setup(self) -> None:
                super().setup()
                with endpoint._connections_lock:
                    endpoint._connections.add(self.connection)
                    endpoint._handlers += 1

            def finish(self) -> None:
                try:
                    super().finish()
                finally:
                    with endpoint._connections_lock:
                        endpoint._connections.discard(self.connection)
                        endpoint._handlers -= 1
                        endpoint._handlers_done.notify_all()

            def answer(self, record: RecordedRequest) -> None:
                endpoint._answer(record)

        self._server = _QuietServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="recording-clickhouse", daemon=True
        )
        self._thread.start()

    def _close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        # Keep-alive connections outlive the listener: cut them, as a dying server would.
        with self._connections_lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def _answer(self, record: RecordedRequest) -> None:
        with self._lock:
            self._records.append(record)
            try:
                _parse(record)
            except _Unsupported as exc:
                record.status, record.error = 501, str(exc)
                return
            with self._connection() as conn, self._data_file(record) as data_path:
                record.executed = _executable(record, data_path)
                try:
                    if record.database:
                        conn.query(f"USE `{record.database}`", "CSV")
                    if record.settings:
                        conn.query("SET " + ", ".join(_assignments(record.settings)), "CSV")
                    result = conn.query(record.executed, record.format, params=record.query_params)
                # A connection raises chdb._exceptions.ChdbError, a RuntimeError
                # (not the chdb.ChdbError the package exports).
                except (RuntimeError, chdb.ChdbError) as exc:
                    record.error = str(exc)
                    match = _CODE_RE.search(record.error)
                    record.status = _STATUS_OF_CODE.get(int(match.group(1)), 500) if match else 500
                    return
                record.status = 200
                record.answer = result.bytes() if result is not None else b""

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        conn = _connect(self._path)
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _data_file(self, record: RecordedRequest) -> Iterator[Path | None]:
        if record.data is None:
            yield None
            return
        path = Path(self._files.name) / f"{uuid.uuid4().hex}.body"
        path.write_bytes(record.data)
        try:
            yield path
        finally:
            path.unlink()


def _connect(path: str) -> Any:
    connect: Any = chdb.connect  # untyped in chDB
    return connect(path)


class _Unsupported(Exception):
    """A request this endpoint cannot execute faithfully."""


def _parse(record: RecordedRequest) -> None:
    """Fill the SQL, data, database, settings and format of a recorded request."""
    params = record.params
    if params.get("decompress") == "1" or params.get("compress") == "1":
        raise _Unsupported("ClickHouse's compressed framing (compress/decompress=1)")
    body = record.body
    encoding = record.headers.get("content-encoding", "").strip().lower()
    if encoding:
        if encoding not in _DECODERS:
            raise _Unsupported(f"Content-Encoding {encoding}")
        body = _DECODERS[encoding](body)
    if "query" in params:
        record.sql = params["query"]
        if body:
            if _INSERT_DATA_RE.match(record.sql):
                record.data = body
            else:
                record.sql += body.decode()
    else:
        record.sql = body.decode()
    record.database = params.get("database")
    record.query_params = {k[6:]: v for k, v in params.items() if k.startswith("param_")}
    record.settings = {
        k: v for k, v in params.items() if k not in TRANSPORT_PARAMS and not k.startswith("param_")
    }
    clause = _FORMAT_CLAUSE_RE.search(record.sql)
    record.format = (
        clause.group("format") if clause else params.get("default_format", "TabSeparated")
    )


def _executable(record: RecordedRequest, data_path: Path | None) -> str:
    """The statement chDB runs for a request: its SQL, reading its data from a file."""
    if data_path is None:
        return record.sql
    match = _INSERT_DATA_RE.match(record.sql)
    assert match is not None  # data is only taken for statements with a FORMAT clause
    head, fmt = match.group("head"), match.group("format")
    source = "'" + str(data_path).replace("'", "\\'") + "'"
    if _INPUT_RE.search(head):
        return _INPUT_RE.sub(lambda m: f"file({source}, '{fmt}', {m.group('structure')})", head)
    return f"{head} FROM INFILE {source} FORMAT {fmt}"


def _assignments(settings: dict[str, str]) -> Iterator[str]:
    # A server parses URL settings from text; a string literal is parsed the same way.
    for name, value in settings.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise _Unsupported(f"setting name {name!r}")
        yield f"{name} = '" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a connection cut by :meth:`RecordingClickHouse.stop` is expected."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clickhouse-connect's pool expects

    def answer(self, record: RecordedRequest) -> None:
        raise NotImplementedError

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        split = urlsplit(self.path)
        if split.path == "/ping":
            self._send(200, b"Ok.\n", {})
            return
        record = RecordedRequest(
            method=self.command,
            path=split.path,
            params=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self._body(),
        )
        self.answer(record)
        headers = {
            "X-ClickHouse-Format": record.format,
            "X-ClickHouse-Timezone": "UTC",
            "X-ClickHouse-Query-Id": record.params.get("query_id") or uuid.uuid4().hex,
        }
        if record.error is not None:
            match = _CODE_RE.search(record.error)
            if match:
                headers["X-ClickHouse-Exception-Code"] = match.group(1)
            self._send(record.status, (record.error + "\n").encode(), headers)
            return
        self._send(200, record.answer, headers)

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the requests are recorded, not logged."""
