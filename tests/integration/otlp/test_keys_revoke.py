"""`tracestream keys` against a running `tracestream otlp`: a revoked key is refused, no restart."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from pathlib import Path

import pytest

from tracestream._worker_process import free_port
from tracestream.schemas import Topics

from .test_cli_receiver import TRACESTREAM, _start, _wait_listening
from .test_receiver_kafka import _post

pytestmark = [pytest.mark.integration, pytest.mark.kafka]


def _keys(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([TRACESTREAM, "keys", *args], env=env, capture_output=True, text=True,
                          timeout=60, check=True)  # fmt: skip
    return done.stdout


async def test_a_revoked_key_is_refused_by_the_running_receiver(
    kafka_bootstrap: str, topic_prefix: str, kafka_topics: Topics, tmp_path: Path
) -> None:
    env = {**os.environ, "TRACESTREAM_KAFKA_BOOTSTRAP": kafka_bootstrap,
           "TRACESTREAM_TOPIC_PREFIX": topic_prefix, "TRACESTREAM_HOME": str(tmp_path / "home")}  # fmt: skip
    env.pop("TRACESTREAM_OTLP_KEYS_FILE", None)
    alpha = (await asyncio.to_thread(_keys, env, "create", "alpha")).splitlines()[1]
    beta = (await asyncio.to_thread(_keys, env, "create", "beta")).splitlines()[1]
    port = free_port()
    # No --keys-file: the receiver finds <home>/otlp-keys.txt, where `keys create` wrote.
    command = [TRACESTREAM, "otlp", "--port", str(port), "--grpc-port", "0"]
    child = await asyncio.to_thread(_start, command, env, tmp_path)
    url = f"http://127.0.0.1:{port}/v1/traces"

    async def status(key: str) -> int:
        headers = {"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {key}"}
        return (await _post(url, b"", headers))[0]

    try:
        await asyncio.to_thread(_wait_listening, port, child, 60)
        assert await status(alpha) == 200
        assert await status("tsk_unknown") == 401
        await asyncio.to_thread(_keys, env, "revoke", alpha[:10])
        # The receiver looks at the file at most once a second: ask until it has.
        for _ in range(200):
            if await status(alpha) == 401:
                break
            await asyncio.sleep(0.05)
        assert await status(alpha) == 401
        assert await status(beta) == 200
    finally:
        child.send_signal(signal.SIGTERM)
        await asyncio.to_thread(child.wait, 30)
    output = (tmp_path / "otlp.log").read_text()
    assert "ingest keys required (2 configured;" in output
    assert alpha not in output and beta not in output
