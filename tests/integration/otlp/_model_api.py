"""A local HTTP server speaking the OpenAI and Anthropic APIs, for the real client packages.

Canned but well-formed answers, so ``openai`` and ``anthropic`` (and the
instrumentations wrapping them) run their real request, parsing and
streaming code against it:

- ``POST /v1/chat/completions`` (OpenAI): a JSON completion, or with
  ``"stream": true`` SSE chunks (the usage in the last chunk when
  ``stream_options.include_usage``); with ``tools`` in the request the answer
  is a tool call; usage carries cached and reasoning tokens;
- ``POST /v1/messages`` (Anthropic): a JSON message or the SSE event
  sequence (``message_start`` ... ``message_stop``); with ``tools`` a
  ``tool_use`` block; usage carries cache read and cache creation tokens;
- a request whose model is ``"no-such-model"`` is answered 404 with each
  API's error body (not retried by the clients).

Every request is kept in :attr:`ModelApi.requests` for assertions.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

MISSING_MODEL = "no-such-model"
ANSWER = "Paris is the capital of France."
OPENAI_USAGE = {
    "prompt_tokens": 120, "completion_tokens": 40, "total_tokens": 160,
    "prompt_tokens_details": {"cached_tokens": 100, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 16, "audio_tokens": 0},
}  # fmt: skip
ANTHROPIC_USAGE = {
    "input_tokens": 20, "output_tokens": 30,
    "cache_read_input_tokens": 100, "cache_creation_input_tokens": 50,
}  # fmt: skip
TOOL_ARGUMENTS = {"city": "Paris"}


def _words(text: str) -> list[str]:
    words = text.split(" ")
    return [w if i == len(words) - 1 else w + " " for i, w in enumerate(words)]


def _openai_message(request: dict[str, Any]) -> tuple[dict[str, Any], str]:
    if request.get("tools"):
        call = {"id": "call_weather_1", "type": "function",
                "function": {"name": "get_weather",
                             "arguments": orjson.dumps(TOOL_ARGUMENTS).decode()}}  # fmt: skip
        return {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"
    return {"role": "assistant", "content": ANSWER}, "stop"


def _openai_completion(request: dict[str, Any]) -> dict[str, Any]:
    message, finish = _openai_message(request)
    return {
        "id": "chatcmpl-local-1", "object": "chat.completion", "created": 1764870000,
        "model": f"{request['model']}-2024-07-18", "system_fingerprint": "fp_local",
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": OPENAI_USAGE,
    }  # fmt: skip


def _openai_chunks(request: dict[str, Any]) -> Iterator[bytes]:
    message, finish = _openai_message(request)
    base = {"id": "chatcmpl-local-2", "object": "chat.completion.chunk", "created": 1764870000,
            "model": f"{request['model']}-2024-07-18", "system_fingerprint": "fp_local"}  # fmt: skip

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        return b"data: " + orjson.dumps({**base, "choices": [choice]}) + b"\n\n"

    yield chunk({"role": "assistant", "content": ""})
    if "tool_calls" in message:
        call = message["tool_calls"][0]
        arguments = call["function"]["arguments"]
        yield chunk({"tool_calls": [{"index": 0, "id": call["id"], "type": "function",
                                     "function": {"name": "get_weather", "arguments": ""}}]})  # fmt: skip
        for i in range(0, len(arguments), 7):
            yield chunk({"tool_calls": [{"index": 0,
                                         "function": {"arguments": arguments[i : i + 7]}}]})  # fmt: skip
    else:
        for word in _words(ANSWER):
            yield chunk({"content": word})
    yield chunk({}, finish)
    if (request.get("stream_options") or {}).get("include_usage"):
        yield b"data: " + orjson.dumps({**base, "choices": [], "usage": OPENAI_USAGE}) + b"\n\n"
    yield b"data: [DONE]\n\n"


def _anthropic_content(request: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    if request.get("tools"):
        return [
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_local_1", "name": "get_weather",
             "input": TOOL_ARGUMENTS},
        ], "tool_use"  # fmt: skip
    return [{"type": "text", "text": ANSWER}], "end_turn"


def _anthropic_message(request: dict[str, Any]) -> dict[str, Any]:
    content, stop = _anthropic_content(request)
    return {"id": "msg_local_1", "type": "message", "role": "assistant",
            "model": request["model"], "content": content, "stop_reason": stop,
            "stop_sequence": None, "usage": ANTHROPIC_USAGE}  # fmt: skip


def _anthropic_events(request: dict[str, Any]) -> Iterator[bytes]:
    def event(name: str, data: dict[str, Any]) -> bytes:
        return f"event: {name}\ndata: ".encode() + orjson.dumps({"type": name, **data}) + b"\n\n"

    content, stop = _anthropic_content(request)
    start_usage = {**ANTHROPIC_USAGE, "output_tokens": 1}
    yield event("message_start", {"message": {
        "id": "msg_local_2", "type": "message", "role": "assistant", "model": request["model"],
        "content": [], "stop_reason": None, "stop_sequence": None, "usage": start_usage}})  # fmt: skip
    for index, block in enumerate(content):
        if block["type"] == "text":
            yield event("content_block_start",
                        {"index": index, "content_block": {"type": "text", "text": ""}})  # fmt: skip
            for word in _words(block["text"]):
                yield event("content_block_delta",
                            {"index": index, "delta": {"type": "text_delta", "text": word}})  # fmt: skip
        else:
            start = {**block, "input": {}}
            yield event("content_block_start", {"index": index, "content_block": start})
            arguments = orjson.dumps(block["input"]).decode()
            for i in range(0, len(arguments), 7):
                delta = {"type": "input_json_delta", "partial_json": arguments[i : i + 7]}
                yield event("content_block_delta", {"index": index, "delta": delta})
        yield event("content_block_stop", {"index": index})
    yield event("message_delta", {"delta": {"stop_reason": stop, "stop_sequence": None},
                                  "usage": {"output_tokens": ANTHROPIC_USAGE["output_tokens"]}})  # fmt: skip
    yield event("message_stop", {})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that drops its keep-alive connection (or stops reading a
        # stream) is normal for HTTP clients; anything else is still printed.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class ModelApi:
    """The server, on a free loopback port, in a daemon thread. Use as a context manager."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet: no line per request
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                request = orjson.loads(self.rfile.read(length) or b"{}")
                path = self.path.split("?", 1)[0]
                api.requests.append((path, request))
                if request.get("model") == MISSING_MODEL:
                    self._missing_model(path)
                elif path.endswith("/chat/completions"):
                    self._answer(request, _openai_completion, _openai_chunks)
                elif path.endswith("/messages"):
                    self._answer(request, _anthropic_message, _anthropic_events)
                else:
                    self._json(404, {"error": {"message": f"no route {path}"}})

            def _answer(self, request: dict[str, Any], whole: Any, stream: Any) -> None:
                if not request.get("stream"):
                    self._json(200, whole(request))
                    return
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                for piece in stream(request):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")

            def _missing_model(self, path: str) -> None:
                message = f"The model `{MISSING_MODEL}` does not exist"
                if path.endswith("/messages"):
                    body = {"type": "error",
                            "error": {"type": "not_found_error", "message": message}}  # fmt: skip
                else:
                    body = {"error": {"message": message, "type": "invalid_request_error",
                                      "param": None, "code": "model_not_found"}}  # fmt: skip
                self._json(404, body)

            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = orjson.dumps(body)
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> ModelApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)
