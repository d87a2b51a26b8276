"""Run the explorer on uvicorn: in the foreground (the CLI) or on a thread (tests, benches)."""

from __future__ import annotations

import gc
import socket
import threading
import time

import uvicorn
from starlette.applications import Starlette

from ._security import AccessKeys, check_bind

__all__ = ["UiServer", "freeze_heap", "serve"]


def freeze_heap() -> None:
    """Move every object alive now out of the garbage collector's sight.

    Called once, when start-up is done: the imports, the storage and the app
    are ~90,000 objects that live as long as the process, and a full (gen-2)
    collection scanned all of them, 25-50 ms on the 2-core host, in the middle
    of whichever response set it off (issue 13: the Trace page's data within
    500 ms p95). Garbage that exists at the call is collected first.
    """
    gc.collect()
    gc.freeze()


def _config(app: Starlette, host: str, port: int) -> uvicorn.Config:
    # One worker process: the storage (chDB) is owned by this process.
    # access_log off: a page load is a dozen requests, not worth a line each.
    return uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False, lifespan="on"
    )


def serve(app: Starlette, *, host: str, port: int, access_key: str | AccessKeys | None) -> None:
    """Serve until interrupted (Ctrl-C), then return. Blocks.

    Raises:
        UiConfigError: a non-loopback ``host`` without an access key.
    """
    check_bind(host, access_key)
    server = uvicorn.Server(_config(app, host, port))
    freeze_heap()
    try:
        server.run()
    except KeyboardInterrupt:
        # uvicorn shuts down gracefully, then re-raises the signal it caught:
        # Ctrl-C is how this command ends, not an error.
        return


class UiServer:
    """The explorer on a background thread, on an OS-chosen port by default.

    ``start`` returns once the socket listens (``url`` says where); ``stop``
    asks uvicorn to finish and joins the thread. A context manager.
    ``freeze_heap``: call :func:`freeze_heap` once listening, as ``serve``
    does (benches measuring what ``tracestream ui`` answers; not for tests:
    what a test process holds then and drops later in a cycle is never freed).
    """

    def __init__(
        self,
        app: Starlette,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        freeze_heap: bool = False,
    ) -> None:
        self._app = app
        self._freeze_heap = freeze_heap
        self._host = host
        self._port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def start(self, timeout_s: float = 30.0) -> str:
        """Bind and serve; returns the base URL. Raises RuntimeError if it never listens."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._port))
        host, port = sock.getsockname()[:2]
        server = uvicorn.Server(_config(self._app, host, port))
        # uvicorn leaves signals alone off the main thread (capture_signals).
        self._server = server
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="tracestream-ui", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the explorer's server did not start")
            time.sleep(0.02)
        self.url = f"http://{host}:{port}"
        if self._freeze_heap:
            freeze_heap()
        return self.url

    def stop(self) -> None:
        """Stop serving and join the thread. Idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def __enter__(self) -> UiServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
