"""The redaction benchmark: deterministic "typical prompt text" and a timed run.

Typical means what the worker sees: chat prompts and answers in prose, code
snippets, JSON tool results and log lines, with sensitive values sparse (about
one per kilobyte) and plenty of numbers that are not sensitive.
"""

from __future__ import annotations

import random
import statistics
import time
from typing import Any

import click
import orjson

__all__ = ["bench_redact", "run_redact_bench", "typical_prompt_text"]

_PROSE = (
    "You are a helpful assistant for an online store. Answer the customer's question "
    "politely and concisely, and never reveal internal notes. The customer wrote: "
    "I ordered the blue jacket last week and it still has not arrived, can you check "
    "the status of my order and tell me when it will be delivered? Thanks in advance. "
    "Summarise the following document in three bullet points, keeping the numbers "
    "exact and citing the section titles. The quarterly report shows revenue growth "
    "of 12.5% compared to the previous quarter, driven mostly by the enterprise segment. "
)
_CODE = (
    "def retry(fn, attempts=3, backoff_s=0.5):\n    for i in range(attempts):\n"
    "        try:\n            return fn()\n        except TimeoutError as exc:\n"
    "            time.sleep(backoff_s * 2 ** i)\n    raise RuntimeError('gave up')\n"
)
_JSON = (
    '{"order_id": "ORD-2026-{n}", "status": "shipped", "items": [{"sku": "JK-{n2}-BL", '
    '"qty": 1, "price": 89.90}], "carrier": "UPS", "eta": "2026-11-{d}", "version": "3.{d}.1"}'
)
_LOG = (
    "2026-11-24T07:{d}:12.481Z INFO worker-3 request_id=9f1c{n} latency_ms={n2} "
    "status=200 path=/api/v2/orders/{n} trace=4bf92f3577b34da6a3ce929d0e0e4736\n"
)
_PII = (
    "Please email me at jane.doe{n}@example.com about it.",
    "My number is +1 415-555-{n4} if you need to call.",
    "The server at 10.20.{d}.{d2} keeps timing out.",
    "Use card 4111 1111 1111 1111 for the refund.",
    "Transfer to DE89 3704 0044 0532 0130 00 please.",
)


def typical_prompt_text(size_bytes: int, seed: int = 7) -> list[str]:
    """Strings of about 2 KB each totalling ``size_bytes``, reproducible for ``seed``."""
    rng = random.Random(seed)
    docs: list[str] = []
    total = 0
    while total < size_bytes:
        parts: list[str] = []
        length = 0
        while length < 2000:
            kind = rng.random()
            fill = {
                "n": rng.randint(100000, 999999),
                "n2": rng.randint(10, 9999),
                "n4": rng.randint(1000, 9999),
                "d": rng.randint(10, 28),
                "d2": rng.randint(1, 254),
            }
            if kind < 0.55:
                start = rng.randrange(0, len(_PROSE) // 2)
                piece = _PROSE[start : start + rng.randint(150, 400)]
            elif kind < 0.7:
                piece = _CODE
            elif kind < 0.82:
                piece = _JSON.replace("{n}", str(fill["n"])).replace("{n2}", str(fill["n2"]))
                piece = piece.replace("{d}", str(fill["d"]))
            elif kind < 0.95:
                piece = _LOG
                for key, value in fill.items():
                    piece = piece.replace("{" + key + "}", str(value))
            else:
                piece = rng.choice(_PII)
                for key, value in fill.items():
                    piece = piece.replace("{" + key + "}", str(value))
            parts.append(piece)
            length += len(piece) + 1
        doc = " ".join(parts)
        docs.append(doc)
        total += len(doc.encode())
    return docs


def run_redact_bench(size_bytes: int = 4_000_000, repeats: int = 5) -> dict[str, Any]:
    """Redact ``size_bytes`` of typical text ``repeats`` times on one thread; report MB/s."""
    from tracestream.streams import Redactor

    docs = typical_prompt_text(size_bytes)
    nbytes = sum(len(d.encode()) for d in docs)
    redactor = Redactor()
    for doc in docs[:50]:  # warm caches (phonenumbers metadata, regex compilation)
        redactor.redact_text(doc)
    rates: list[float] = []
    findings = 0
    for _ in range(repeats):
        findings = 0
        t0 = time.process_time()
        for doc in docs:
            findings += len(redactor.redact_text(doc)[1])
        elapsed = time.process_time() - t0
        rates.append(nbytes / 1e6 / elapsed)
    return {
        "benchmark": "redact",
        "bytes": nbytes,
        "documents": len(docs),
        "repeats": repeats,
        "findings_per_run": findings,
        "mb_per_s_median": round(statistics.median(rates), 2),
        "mb_per_s_runs": [round(r, 2) for r in rates],
        "clock": "process CPU time, one thread (per core)",
        "target_mb_per_s": 20.0,
    }


@click.command("redact")
@click.option("--size-mb", type=float, default=4.0, show_default=True, help="Text per run.")
@click.option("--repeats", type=int, default=5, show_default=True, help="Runs; median reported.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def bench_redact(size_mb: float, repeats: int, as_json: bool) -> None:
    """MB/s of typical prompt text through the redactor, one thread (CPU time)."""
    report = run_redact_bench(int(size_mb * 1_000_000), repeats)
    if as_json:
        click.echo(orjson.dumps(report).decode())
    else:
        for key, value in report.items():
            click.echo(f"{key}: {value}")
