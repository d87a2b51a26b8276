"""`make demo` shows the product: SDK -> Kafka -> worker -> sink -> chDB, then what a newcomer reads.

One run of ``tracestream demo`` (per worker engine), checked on its printed
output and on what it stored: the workload's shape, costs where a price
exists, every planted PII value masked by its own detector, the planted
anomalies found, the HTML report, a trace worth opening that really has a
failed tool call and its retry, SQL to try that runs, and no alarming line.
The stored data is read in one child process: chDB takes one data directory
per process, and this test session may hold another.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from tracestream.demo import DEMO_INCIDENTS, MODELS, run_workload
from tracestream.producers import InMemoryTransport, Tracer
from tracestream.schemas import ModelInfo, Usage
from tracestream.streams import Pricer

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]

TRACESTREAM = str(Path(sys.executable).with_name("tracestream"))
TRACES, AGENTS, SEED = 160, 4, 7
PROVIDERS = {model: provider for model, provider, _ in MODELS} | {"o3-mini": "openai"}
# The workload's PII formats, each with the placeholder of the detector that owns it.
PLANTED = (
    (re.compile(r"[a-z]+\.\d+@example\.com"), "<EMAIL>"),
    (re.compile(r"\+44 20 7946 \d{4}"), "<PHONE>"),
    (re.compile(r"4111 1111 1111 1111|5555 5555 5555 4444"), "<CREDIT_CARD>"),
)
ALARMING = re.compile(r"\b(WARNING|ERROR|CRITICAL)\b|Traceback")

# Run in a child with TRACESTREAM_HOME pointing at the demo's storage.
READ_SCRIPT = """
import json, sys
from tracestream._query_target import open_for_reading
from tracestream._settings import load_settings
queries = json.load(sys.stdin)
with open_for_reading(load_settings()) as storage:
    out = {name: [list(row) for row in storage.query(sql, params).rows]
           for name, (sql, params) in queries.items()}
def text(value):
    # Times as fixed-width ISO text, so they compare as strings.
    return value.isoformat(timespec="microseconds") if hasattr(value, "isoformat") else str(value)
print(json.dumps(out, default=text))
"""


def test_demo_shows_anomalies_report_addresses_and_masked_pii(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    env = {
        **os.environ,
        "TRACESTREAM_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "TRACESTREAM_TOPIC_PREFIX": topic_prefix,
        "TRACESTREAM_TOPIC_PARTITIONS": "2",
        "TRACESTREAM_HOME": str(home),
        "TRACESTREAM_WORKER_APP_ID": f"{topic_prefix}worker",
        "TRACESTREAM_SINK_GROUP_ID": f"{topic_prefix}sink",
    }
    args = ["--traces", str(TRACES), "--agents", str(AGENTS), "--seed", str(SEED)]
    done = subprocess.run(
        [TRACESTREAM, "demo", *args, "--timeout", "120"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-3000:]
    alarming = [ln for ln in (out + done.stderr).splitlines() if ALARMING.search(ln)]
    assert not alarming, alarming

    # 1. Progress: plain lines when not on a terminal, ending with everything stored.
    progress = [ln.strip() for ln in out.splitlines() if ln.strip().startswith("tickets ")]
    assert progress[-1].endswith(f"traces stored {TRACES}/{TRACES}"), progress
    assert all("\r" not in ln for ln in progress)
    assert "events sent" in out and ", 0 dropped" in out

    # 2. The workload's shape, read back from storage.
    shape = {row[0]: row for row in _table(out, "What the pipeline stored")}
    assert _int(shape["traces"][1]) == TRACES
    assert int(re.search(r"nested up to (\d+) deep", shape["traces"][2]).group(1)) >= 4  # type: ignore[union-attr]
    assert _int(shape["agent steps"][1]) == TRACES
    assert _int(shape["models"][1]) == len(PROVIDERS)
    failed, retried = map(
        int, re.findall(r"(\d+) (?:failed|tickets retried)", shape["tool calls"][2])
    )
    assert failed > 0 and retried > 0
    assert int(shape["retrievals"][2].split()[0]) > 0  # some found nothing
    assert _int(shape["reasoning steps"][2].split()[0]) > 0
    assert _int(shape["scores"][1]) == TRACES

    # Cost: non-zero wherever the price table knows the model, absent (and counted) elsewhere.
    cost = {row[0]: dict(zip(_header(out, "Cost and latency by model"), row, strict=True))
            for row in _table(out, "Cost and latency by model")}  # fmt: skip
    assert set(cost) == set(PROVIDERS)
    for model, row in cost.items():
        quote = Pricer().quote(
            ModelInfo(name=model, provider=PROVIDERS[model]),
            Usage(input_tokens=1000, output_tokens=100),
            datetime.now(UTC),
        )
        if quote.cost is not None and quote.cost.total_usd > 0:
            assert float(row["usd"]) > 0 and row["unpriced"] == "0", row
        else:
            assert row["usd"] == "∅" and row["unpriced"] == row["calls"], row

    # 3. Anomalies: both injected incidents found, read from the anomalies table.
    anomalies = _table(out, "Anomalies the worker found")
    assert anomalies
    found = {(row[0], row[1]) for row in anomalies if float(row[5].rstrip("x")) > 1}
    assert ("retrieval kb-search", "latency_p95_ms") in found, anomalies
    assert ("generation plan-llm (o3-mini)", "cost_usd") in found, anomalies
    assert {row[7] for row in anomalies} <= {"warning", "critical"}

    # 4. The HTML report, the addresses, the trace worth opening, the SQL to try.
    report = Path(re.search(r"^\s+report\s+(\S+)$", out, re.M).group(1))  # type: ignore[union-attr]
    html = report.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "lookup_order" in html and "kb-search" in html
    assert re.search(r"worker http://127\.0\.0\.1:\d+/metrics \([\d,]+ events in", out)
    assert re.search(r"sink\s+http://127\.0\.0\.1:\d+/metrics \([\d,]+ rows written", out)
    assert "tracestream ui" in out
    trace_id = re.search(r"http://127\.0\.0\.1:7070/#/trace/([0-9a-f]{32})", out).group(1)  # type: ignore[union-attr]
    to_try = re.findall(r'^\s+tracestream query "(.+)"$', out, re.M)
    assert len(to_try) == 3

    planted = _planted_questions()
    stored = _read(
        env,
        {
            "questions": (
                "SELECT JSONExtractString(input, 'question') FROM spans FINAL "
                "WHERE service = 'support-bot' AND parent_span_id = ''",
                {},
            ),
            "texts": (
                "SELECT input, output, tool_arguments, tool_result, attributes FROM spans FINAL",
                {},
            ),
            "tools": (
                "SELECT name, status, start_time, end_time FROM spans FINAL "
                "WHERE trace_id = {id:String} AND kind = 'tool' ORDER BY start_time",
                {"id": trace_id},
            ),
        }
        | {f"try{i}": (sql, {}) for i, sql in enumerate(to_try)},
    )
    # Each planted value is replaced by its own detector's placeholder, and found nowhere.
    masked = Counter(_mask(q) for q in planted)
    assert Counter(row[0] for row in stored["questions"]) == masked
    everything = json.dumps(stored["texts"])
    for pattern, _ in PLANTED:
        assert not pattern.search(everything), pattern.pattern
    # The trace printed has a failed tool call and, after it ended, the same tool again, passing.
    tools = stored["tools"]
    failures = [t for t in tools if t[1] == "error"]
    assert failures
    assert any(t[0] == failures[0][0] and t[1] == "ok" and t[2] >= failures[0][3] for t in tools)
    for i in range(3):
        assert stored[f"try{i}"], to_try[i]


def _planted_questions() -> list[str]:
    """The questions the demo's seeded workload asked, PII and all (no waits, same draws)."""
    transport = InMemoryTransport()
    tracer = Tracer(project="demo", service="support-bot", transport=transport, flush_at_exit=False)
    run_workload(
        tracer, traces=TRACES, seed=SEED, agents=AGENTS, incidents=DEMO_INCIDENTS, wait=False
    )
    events = [orjson.loads(value) for _, value in transport.records]
    return [
        e["input"]["question"]
        for e in events
        if e.get("name") == "support-ticket" and "input" in e and "parent_span_id" not in e
    ]


def _mask(question: str) -> str:
    for pattern, placeholder in PLANTED:
        question = pattern.sub(placeholder, question)
    return question


def _read(env: dict[str, str], queries: dict[str, tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", READ_SCRIPT],
        env=env,
        input=json.dumps(queries),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _rows_after(out: str, title: str) -> list[list[str]]:
    """Every line of the rich table titled ``title``, split into cells (header included)."""
    lines = out.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith(title))
    rows: list[list[str]] = []
    for line in lines[start + 1 :]:
        if line.startswith("└"):
            break
        if line.startswith(("│", "┃")):
            rows.append([cell.strip() for cell in re.split(r"[│┃]", line)[1:-1]])
    return rows


def _header(out: str, title: str) -> list[str]:
    return _rows_after(out, title)[0]


def _table(out: str, title: str) -> list[list[str]]:
    return _rows_after(out, title)[1:]


def _int(text: str) -> int:
    return int(text.replace(",", ""))
