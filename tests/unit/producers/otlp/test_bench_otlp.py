"""``tracestream bench otlp`` sends what it says: LLM-sized GenAI spans the receiver accepts."""

from __future__ import annotations

import os

import orjson
import pytest

from benchmarks.otlp import (
    SPANS_PER_BATCH,
    _attribute_bytes,
    _bodies,
    _cpu_s,
    _ratios,
    make_batches,
)
from tracestream.producers.otlp import convert_request, decode_request

pytestmark = pytest.mark.unit


def test_batches_hold_512_llm_sized_spans_that_all_convert() -> None:
    requests = make_batches(2)
    assert 1_700 <= _attribute_bytes(requests) <= 2_300  # "about 2 KB of attributes"
    bodies = _bodies(requests)
    ids = set()
    for encoding in ("protobuf", "json"):
        for body in bodies[encoding]:
            conversion = convert_request(decode_request(body.data, body.content_type),
                                         project="bench")  # fmt: skip
            assert (conversion.accepted, conversion.rejected) == (SPANS_PER_BATCH, 0)
            events = [orjson.loads(r.value) for r in conversion.records]
            ids.update(e["span_id"] for e in events)
            generations = [e for e in events if e["kind"] == "generation"]
            assert len(generations) == SPANS_PER_BATCH * 7 // 8
            assert generations[0]["usage"] == {"input_tokens": 164, "output_tokens": 24,
                                               "cached_tokens": 256, "cache_write_tokens": 0,
                                               "reasoning_tokens": 12}  # fmt: skip
    assert len(ids) == 2 * SPANS_PER_BATCH  # distinct batches, the same in both encodings


def test_cpu_time_and_ratios() -> None:
    assert _cpu_s(os.getpid()) > 0
    report = {"receiver": {"protobuf": {"cpu_us_per_span": 150.0}, "json": {"cpu_us_per_span": None}},
              "collector": {"protobuf": {"cpu_us_per_span": 10.0}, "json": {"cpu_us_per_span": 20.0}}}  # fmt: skip
    assert _ratios(report) == {"protobuf": 15.0}
    assert _ratios({"receiver": {}, "collector": {"error": "build failed"}}) is None
