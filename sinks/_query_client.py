"""The other side of the embedded engine's query server: discover it, query it.

A process that needs the data of a chDB directory another process owns
(``tracestream query``, ``analyze``, ``export``, ``admin``, the UI) finds the
owner's :class:`~._query_server.QueryServer` through its discovery file
(:func:`discover_query_server`) and reads through :class:`QueryServerClient`.
The protocol is described in :mod:`._query_server`.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from ._errors import StorageError, StorageRejected, StorageUnavailable
from ._query_server import ARROW_STREAM, QueryServerInfo
from ._storage import SettingValue
from ._storage_base import ArrowStorage

__all__ = ["QueryServerClient", "discover_query_server"]


class QueryServerClient(ArrowStorage):
    """The read half of :class:`~tracestream.sinks.Storage`, over a query server.

    ``query`` and ``query_arrow`` work (read-only, enforced by the server);
    ``command`` and ``insert`` raise :class:`StorageRejected`, so a reader
    handed this client cannot write by accident. :meth:`run_admin` is the one
    deliberate write: an operator statement, on a server that allows them.
    Each call opens one HTTP connection and blocks until the answer
    (``timeout_s``).
    """

    engine_name = "query-server"

    def __init__(self, info: QueryServerInfo, *, timeout_s: float = 300.0) -> None:
        self._info = info
        self._timeout_s = timeout_s

    @property
    def database(self) -> str:
        return self._info.database

    def open(self) -> None:
        return None

    def close(self) -> None:
        return None

    def command(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        settings: Mapping[str, SettingValue] | None = None,
    ) -> None:
        raise StorageRejected("the query server is read-only; run writes in the owning process")

    def insert_select(
        self,
        table: str,
        columns: Sequence[str],
        select_sql: str,
        source: pa.Table,
        *,
        params: Mapping[str, Any] | None = None,
        dedup_token: str | None = None,
        settings: Mapping[str, SettingValue] | None = None,
    ) -> int:
        raise StorageRejected("the query server is read-only; run writes in the owning process")

    def insert(
        self,
        table: str,
        batch: pa.Table,
        *,
        dedup_token: str | None = None,
        settings: Mapping[str, SettingValue] | None = None,
    ) -> int:
        raise StorageRejected("the query server is read-only; run writes in the owning process")

    def query_arrow(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        settings: Mapping[str, SettingValue] | None = None,
    ) -> pa.Table:
        """Run a read-only query on the owner. ``settings`` are ignored (readonly wins)."""
        body = json.dumps({"sql": sql, "params": dict(params or {})}, default=str).encode()
        status, content_type, data = self._request("POST", "/query", body)
        if status == 200 and content_type == ARROW_STREAM:
            return pa.ipc.open_stream(data).read_all()
        raise _answer_error(status, data)

    @property
    def pid(self) -> int:
        """The owning process's id (as its discovery file says)."""
        return self._info.pid

    def run_admin(self, sql: str) -> str:
        """Run one operator statement in the owning process; return it as run.

        Raises:
            StorageRejected: refused (not an operator statement, or the server
                serves reads only) or rejected by the engine.
            StorageUnavailable: unreachable, or the engine could not run it now.
        """
        body = json.dumps({"sql": sql}).encode()
        status, _, data = self._request("POST", "/command", body)
        if status == 200:
            return str(json.loads(data)["statement"])
        raise _answer_error(status, data)

    def health(self) -> dict[str, Any]:
        """The server's ``/health`` answer. Raises StorageUnavailable when unreachable."""
        status, _, data = self._request("GET", "/health", None, timeout_s=2.0)
        if status != 200:
            raise StorageUnavailable(f"query server health: HTTP {status}")
        answer: dict[str, Any] = json.loads(data)
        return answer

    def _request(
        self, method: str, path: str, body: bytes | None, *, timeout_s: float | None = None
    ) -> tuple[int, str, bytes]:
        conn = http.client.HTTPConnection(
            self._info.host, self._info.port, timeout=timeout_s or self._timeout_s
        )
        headers = {"Authorization": f"Bearer {self._info.token}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.getheader("Content-Type", ""), response.read()
        except OSError as exc:
            raise StorageUnavailable(
                f"query server at {self._info.host}:{self._info.port} is unreachable: {exc}"
            ) from exc
        finally:
            conn.close()


def _answer_error(status: int, data: bytes) -> StorageError:
    """The error a non-200 answer of the server carries, as our type."""
    try:
        err = json.loads(data)
        message, code, retriable = str(err["error"]), err.get("code"), bool(err["retriable"])
        name = err.get("code_name")
    except (ValueError, KeyError, TypeError):
        message, code, retriable = f"HTTP {status}: {data[:200]!r}", None, status >= 500
        name = None
    return (StorageUnavailable if retriable else StorageRejected)(
        message, code=code, code_name=name
    )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def discover_query_server(path: Path, *, timeout_s: float = 300.0) -> QueryServerClient | None:
    """A client for the live query server announced at ``path``, else ``None``.

    Blocks for at most ~2 s (one health request). A file whose process is gone
    or whose port refuses connections is stale and removed; a file whose server
    answers with another pid (pid reuse, a restarted owner) is treated as stale
    too.
    """
    info = QueryServerInfo.read(path)
    if info is None:
        return None
    if info.pid != os.getpid() and not _pid_alive(info.pid):
        _remove_stale(path, info)
        return None
    client = QueryServerClient(info, timeout_s=timeout_s)
    try:
        health = client.health()
    except StorageError:
        _remove_stale(path, info)
        return None
    if health.get("pid") != info.pid:
        _remove_stale(path, info)
        return None
    return client


def _remove_stale(path: Path, info: QueryServerInfo) -> None:
    # Only remove the file we judged: a new owner may have replaced it meanwhile.
    current = QueryServerInfo.read(path)
    if current is not None and current.token == info.token:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
