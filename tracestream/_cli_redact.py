"""``tracestream redact`` and ``tracestream bench redact``."""

from __future__ import annotations

import sys
from typing import Any

import click
import orjson

__all__ = ["bench_redact", "redact"]


@click.command()
def redact() -> None:
    """Redact stdin with the configured policy (settings: redact_*).

    JSON lines ``{"text": "..."}`` in, one line per input out:
    ``{"text": "<redacted>", "findings": [{"detector", "start", "end"}]}``, with
    offsets into the original text. Lines that are not such JSON objects are
    treated as plain text and written back redacted, without findings.
    """
    from tracestream.streams import Redactor

    from ._redaction_settings import redaction_policy
    from ._settings import load_settings

    redactor = Redactor(redaction_policy(load_settings()))
    out = sys.stdout.buffer
    for raw in sys.stdin.buffer:
        line = raw.rstrip(b"\r\n")
        obj: Any = None
        if line.lstrip().startswith(b"{"):
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                obj = None
        if isinstance(obj, dict) and isinstance(obj.get("text"), str):
            text, findings = redactor.redact_text(obj["text"])
            record = {
                "text": text,
                "findings": [
                    {"detector": f.detector, "start": f.start, "end": f.end} for f in findings
                ],
            }
            out.write(orjson.dumps(record) + b"\n")
        else:
            text, _ = redactor.redact_text(line.decode("utf-8", errors="replace"))
            out.write(text.encode() + b"\n")
    out.flush()


@click.command("redact")
@click.option("--size-mb", type=float, default=4.0, show_default=True, help="Text per run.")
@click.option("--repeats", type=int, default=5, show_default=True, help="Runs; median reported.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def bench_redact(size_mb: float, repeats: int, as_json: bool) -> None:
    """MB/s of typical prompt text through the redactor, one thread (CPU time)."""
    from ._bench_redact import run_redact_bench

    report = run_redact_bench(int(size_mb * 1_000_000), repeats)
    if as_json:
        click.echo(orjson.dumps(report).decode())
    else:
        for key, value in report.items():
            click.echo(f"{key}: {value}")
