"""``tracestream redact`` and ``tracestream bench redact``."""

from __future__ import annotations

import sys
from typing import Any

import click
import orjson

__all__ = ["redact"]


@click.command()
def redact() -> None:
    """Redact stdin with the configured policy (settings: redact_*).

    JSON lines ``{"text": "..."}`` in, one line per input out:
    ``{"text": "<redacted>", "findings": [{"detector", "start", "end"}]}``, with
    offsets into the original text. Lines that are not such JSON objects are
    treated as plain text and written back redacted, without findings.
    """
    from tracestream._redaction_settings import redaction_policy
    from tracestream._settings import load_settings
    from tracestream.streams import Redactor

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
