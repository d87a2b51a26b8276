"""The read API over real chDB, through real HTTP: exact answers on the UI data set.

The data set (tests/integration/ui/_ui_data.py): traces a1-a4 of the sinks'
known data (a1's generation stored twice: read once), b5 (a support turn with
a failed tool call, a retry and a redaction) and b6 (a 50-span batch job).
Start times: a1 10:00, a2 10:01, b5 10:05, b6 10:20, a4 10:30, a3 11:00.
"""

from __future__ import annotations

import pytest

from tests.integration.ui._client import RANGE, call
from tracestream.ui import STATIC_DIR

pytestmark = pytest.mark.integration

A1, A2, A3, A4 = (f"{i:032x}" for i in (0xA1, 0xA2, 0xA3, 0xA4))
B5, B6 = f"{0xB5:032x}", f"{0xB6:032x}"
SHORT = {A1: "a1", A2: "a2", A3: "a3", A4: "a4", B5: "b5", B6: "b6"}


def listed(url: str, query: str) -> list[str]:
    answer = call(f"{url}/api/traces?{RANGE}&{query}")
    assert answer.status == 200, answer.body
    return [SHORT[t["trace_id"]] for t in answer.body["items"]]


def test_a_page_of_traces_newest_first_with_every_column(ui_url: str) -> None:
    answer = call(f"{ui_url}/api/traces?{RANGE}")
    assert answer.status == 200
    page = answer.body
    assert [SHORT[t["trace_id"]] for t in page["items"]] == ["a3", "a4", "b6", "b5", "a2", "a1"]
    assert (page["limit"], page["offset"], page["has_more"]) == (50, 0, False)
    assert (page["from"], page["to"]) == (
        "2026-11-01T10:00:00.000000Z",
        "2026-11-01T12:00:00.000000Z",
    )
    assert page["items"][3] == {
        "trace_id": B5, "project": "shop", "environment": "production", "services": ["support"],
        "name": "support-turn", "status": "error", "start_time": "2026-11-01T10:05:00.000000Z",
        "duration_ms": 3000.0, "span_count": 6, "error_count": 1, "tool_call_count": 2,
        "input_tokens": 1712, "output_tokens": 104, "cached_tokens": 512, "reasoning_tokens": 0,
        "cost_usd": 0.00468, "unpriced_generations": 0, "models": ["gpt-4o"], "user_id": "u-2",
        "session_id": "s-5", "tags": ["vip"], "input_preview": "Where is my parcel?",
    }  # fmt: skip
    # a1 was emitted twice (incomplete, then ok): the newest version is listed, once.
    assert page["items"][5]["status"] == "ok" and page["items"][5]["span_count"] == 4


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("project=shop", ["a3", "b5", "a2", "a1"]),
        ("service=search", ["a3"]),
        ("service=support", ["b5"]),
        ("environment=production", ["a3", "a4", "b6", "b5", "a2", "a1"]),
        ("environment=staging", []),
        ("status=error", ["b5", "a2"]),
        ("model=gpt-4o", ["b5"]),
        ("user=u-1", ["a3", "a4", "a2", "a1"]),
        ("session=s-1", ["a1"]),
        ("tag=vip", ["b5"]),
        ("tag=beta", ["a3", "a4", "a2", "a1"]),
        ("min_duration_ms=2000", ["b5", "a2"]),
        ("min_cost_usd=0.005", ["a2", "a1"]),
        ("has_errors=true", ["b5", "a2"]),
        ("has_errors=false", ["a3", "a4", "b6", "a1"]),
        # Full text over span inputs, outputs and errors: whole words, case-sensitive.
        # b5 matches "order" through its generation's tool call arguments.
        ("q=order", ["b5", "a1"]),
        ("q=Monday", ["b5"]),
        ("q=timed+out", ["a2"]),
        ("q=out+timed", ["a2"]),
        ("q=timed+in", []),
        ("q=Timed", []),
        ("q=refused", ["b5"]),
        (f"q={A3}", ["a3"]),
        ("project=shop&has_errors=true&q=order", ["b5"]),
        ("from=2026-11-01T10:01:00Z&to=2026-11-01T10:30:00Z", ["b6", "b5", "a2"]),
    ],
)
def test_filters(ui_url: str, query: str, expected: list[str]) -> None:
    assert listed(ui_url, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # Unpriced traces last in either order, then by id.
        ("sort=cost_usd", ["a2", "a1", "b5", "a3", "b6", "a4"]),
        ("sort=cost_usd&order=asc", ["a3", "b5", "a1", "a2", "a4", "b6"]),
        ("sort=duration_ms&order=asc", ["a4", "a3", "b6", "a1", "a2", "b5"]),
        ("sort=span_count", ["b6", "b5", "a3", "a2", "a1", "a4"]),
        ("sort=tokens", ["b5", "b6", "a4", "a3", "a2", "a1"]),
    ],
)
def test_sorting(ui_url: str, query: str, expected: list[str]) -> None:
    assert listed(ui_url, query) == expected


def test_paging_asks_one_row_more_to_know_if_there_is_a_next_page(ui_url: str) -> None:
    first = call(f"{ui_url}/api/traces?{RANGE}&limit=2").body
    assert [SHORT[t["trace_id"]] for t in first["items"]] == ["a3", "a4"]
    assert first["has_more"] is True
    last = call(f"{ui_url}/api/traces?{RANGE}&limit=2&offset=4").body
    assert [SHORT[t["trace_id"]] for t in last["items"]] == ["a2", "a1"]
    assert last["has_more"] is False


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("sort=bogus", "sort: 'bogus' is not one of"),
        ("min_cost_usd=cheap", "min_cost_usd: 'cheap' is not a number"),
        ("status=weird", "status: 'weird'"),
        ("limit=9999", "limit: 9999 is not between 1 and 500"),
    ],
)
def test_bad_parameters_are_400_with_the_reason(ui_url: str, query: str, message: str) -> None:
    answer = call(f"{ui_url}/api/traces?{RANGE}&{query}")
    assert answer.status == 400
    assert message in answer.body["error"]


def test_facets_offer_what_the_range_holds(ui_url: str) -> None:
    assert call(f"{ui_url}/api/facets?{RANGE}").body == {
        "projects": ["bulk", "other", "shop"],
        "services": ["batch", "checkout", "search", "support"],
        "models": ["gpt-4o"],
        "environments": ["production"],
        "tags": ["beta", "vip"],
    }


def test_one_trace_in_tree_order_with_layout_and_no_payloads(ui_url: str) -> None:
    data = call(f"{ui_url}/api/traces/{B5}").body
    assert data["trace"]["name"] == "support-turn"
    assert (data["trace"]["error_count"], data["trace"]["models"]) == (1, ["gpt-4o"])
    assert data["start_time"] == "2026-11-01T10:05:00.000000Z"
    assert data["truncated"] is False and data["scores"] == [] and data["anomalies"] == []
    rows = [
        (s["span_id"][-1], s["depth"], s["subtree_size"], s["kind"], s["name"], s["status"],
         s["start_ms"], s["end_ms"], s["critical"])
        for s in data["spans"]
    ]  # fmt: skip
    assert rows == [
        ("1", 0, 5, "agent", "support-turn", "ok", 0.0, 3000.0, True),
        ("2", 1, 0, "retrieval", "kb-search", "ok", 10.0, 130.0, False),
        ("3", 1, 0, "generation", "plan", "ok", 150.0, 850.0, False),
        ("4", 1, 0, "tool", "lookup_order", "error", 900.0, 1300.0, False),
        ("5", 1, 0, "tool", "lookup_order", "ok", 1400.0, 1700.0, False),
        ("6", 1, 0, "generation", "answer", "ok", 1750.0, 2950.0, True),
    ]
    failed = data["spans"][3]
    assert failed == {
        "span_id": "00b5000000000004", "parent_span_id": "00b5000000000001",
        "service": "support", "kind": "tool", "name": "lookup_order", "status": "error",
        "duration_ms": 400.0, "model": "", "tool_name": "lookup_order", "input_tokens": 0,
        "output_tokens": 0, "cost_usd": None, "error_type": "ConnectionError",
        "error_message": "orders-db refused the connection", "redaction_detectors": [],
        "start_ms": 900.0, "end_ms": 1300.0, "depth": 1, "subtree_size": 0, "child_count": 0,
        "orphan": False, "critical": False, "anomaly": False,
    }  # fmt: skip
    assert data["spans"][2]["redaction_detectors"] == ["email"]
    assert not any("input" in s or "output" in s for s in data["spans"])


def test_a_trace_shows_its_scores_and_the_anomalies_its_spans_fell_into(ui_url: str) -> None:
    a1 = call(f"{ui_url}/api/traces/{A1}").body
    # The generation stored as version 1 and 2 is one span.
    assert len(a1["spans"]) == 4
    assert a1["scores"] == [
        {"event_id": "0190c8a0-0000-7000-8000-000000000001", "span_id": None,
         "name": "helpfulness", "source": "api", "comment": None,
         "timestamp": "2026-11-01T10:00:10.000000Z", "data_type": "numeric", "value": 0.9},
        {"event_id": "0190c8a0-0000-7000-8000-000000000004", "span_id": None,
         "name": "thumbs_up", "source": "api", "comment": None,
         "timestamp": "2026-11-01T10:00:20.000000Z", "data_type": "boolean", "value": True},
    ]  # fmt: skip
    a2 = call(f"{ui_url}/api/traces/{A2}").body
    # The sql_query tool of a2 ran inside the sql_query anomaly windows (10:01-10:02).
    assert [(s["name"], s["anomaly"]) for s in a2["spans"]] == [
        ("answer", False),
        ("chat", False),
        ("web_search", False),
        ("sql_query", True),
    ]
    assert sorted(a["metric"] for a in a2["anomalies"]) == ["error_rate", "latency_p95_ms"]
    a3 = call(f"{ui_url}/api/traces/{A3}").body
    assert [s["anomaly"] for s in a3["spans"]] == [False] * 4
    assert [(s["name"], s["value"]) for s in a3["scores"]] == [
        ("helpfulness", 0.7),
        ("topic", "billing"),
    ]


def test_one_span_with_its_payloads_decoded(ui_url: str) -> None:
    answer = call(f"{ui_url}/api/traces/{B5}/spans/00b5000000000003")
    assert answer.status == 200
    span = answer.body["span"]
    assert span["input"] == [
        {"role": "system", "content": "You are a support agent."},
        {"role": "user", "content": "Where is my parcel? Reach me at [EMAIL]."},
    ]
    assert span["output"]["tool_calls"][0]["function"]["name"] == "lookup_order"
    assert span["model_parameters"] == {"temperature": 0.2, "max_tokens": 256}
    assert span["redactions"] == [{"detector": "email", "field": "input[1].content", "count": 1}]
    assert (span["cost_input_usd"], span["cost_output_usd"], span["cost_cached_usd"],
            span["cost_usd"]) == (0.00075, 0.00064, 0.00064, 0.00203)  # fmt: skip
    assert (span["input_tokens"], span["output_tokens"], span["cached_tokens"]) == (812, 64, 512)
    assert "inserted_at" not in span and "retention_days" not in span
    assert answer.body["scores"] == []
    failed = call(f"{ui_url}/api/traces/{B5}/spans/00b5000000000004").body["span"]
    assert failed["error_stack"].endswith("ConnectionError")
    assert failed["tool_arguments"] == {"order": "A-17"}
    retry = call(f"{ui_url}/api/traces/{B5}/spans/00b5000000000005").body["span"]
    assert retry["tool_result"] == {"status": "shipped", "eta": "Monday"}
    assert retry["attributes"] == {"retry": 1}


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (f"/api/traces/{'f' * 32}", 404),
        (f"/api/traces/{B5}/spans/{'f' * 16}", 404),
        ("/api/traces/not-a-trace", 400),
        (f"/api/traces/{B5}/spans/zz", 400),
    ],
)
def test_unknown_and_malformed_ids(ui_url: str, path: str, status: int) -> None:
    assert call(ui_url + path).status == status


def test_sessions_and_one_session_as_a_thread(ui_url: str) -> None:
    sessions = call(f"{ui_url}/api/sessions?{RANGE}&project=shop").body
    assert [(s["session_id"], s["traces"], s["cost_usd"], s["errors"]) for s in sessions["items"]] == [
        ("s-3", 1, 0.00105, 0), ("s-5", 1, 0.00468, 1), ("s-2", 1, 0.009, 1), ("s-1", 1, 0.00525, 0),
    ]  # fmt: skip
    thread = call(f"{ui_url}/api/sessions/s-5?{RANGE}").body
    assert thread["by"] == "session"
    assert [(t["input"], t["output"], t["duration_ms"]) for t in thread["turns"]] == [
        ("Where is my parcel?", "It arrives on Monday.", 3000.0)
    ]
    user = call(f"{ui_url}/api/sessions/u-1?by=user&{RANGE}").body
    assert [SHORT[t["trace_id"]] for t in user["turns"]] == ["a1", "a2", "a4", "a3"]
    assert user["turns"][1]["output"] is None


def test_overview_of_one_project(ui_url: str) -> None:
    data = call(f"{ui_url}/api/overview?from=2026-11-01T10:00:00Z&to=2026-11-01T11:00:00Z"
                "&project=shop").body  # fmt: skip
    assert data["bucket_s"] == 60 and len(data["series"]) == 60
    busy = [p for p in data["series"] if p["traces"]]
    assert busy == [
        {"bucket": "2026-11-01T10:00:00.000000Z", "traces": 1, "p50_ms": 1000.0,
         "p95_ms": 1000.0, "errors": 0, "cost_usd": 0.00525, "error_rate": 0.0},
        {"bucket": "2026-11-01T10:01:00.000000Z", "traces": 1, "p50_ms": 2000.0,
         "p95_ms": 2000.0, "errors": 1, "cost_usd": 0.009, "error_rate": 1.0},
        {"bucket": "2026-11-01T10:05:00.000000Z", "traces": 1, "p50_ms": 3000.0,
         "p95_ms": 3000.0, "errors": 1, "cost_usd": 0.00468, "error_rate": 1.0},
    ]  # fmt: skip
    # gpt-4o: a1's two generations (0.0035 + 0.00175) and b5's (0.00203 + 0.00265).
    assert data["cost_by_model"] == [
        {"model": "gpt-4o", "generations": 4, "input_tokens": 3212, "output_tokens": 254,
         "unpriced": 0, "cost_usd": 0.00993},
        {"model": "claude-sonnet-4", "generations": 1, "input_tokens": 2000,
         "output_tokens": 200, "unpriced": 0, "cost_usd": 0.009},
    ]  # fmt: skip
    assert data["cost_by_service"] == [
        # a1 and a2: 4 spans each (a1's twice-stored generation counts once).
        {"service": "checkout", "span_count": 8, "errors": 2, "cost_usd": 0.01425},
        {"service": "support", "span_count": 6, "errors": 1, "cost_usd": 0.00468},
    ]
    assert data["failing_tools"] == [
        {"tool": "lookup_order", "calls": 2, "errors": 1, "error_rate": 0.5,
         "error_type": "ConnectionError"},
        {"tool": "sql_query", "calls": 1, "errors": 1, "error_rate": 1.0,
         "error_type": "TimeoutError"},
    ]  # fmt: skip
    assert len(data["anomalies"]) == 2


def test_anomalies_newest_first(ui_url: str) -> None:
    items = call(f"{ui_url}/api/anomalies?{RANGE}&service=checkout").body["items"]
    assert items == [
        {"project": "shop", "service": "checkout", "model": "", "kind": "tool",
         "name": "sql_query", "metric": metric, "window_start": "2026-11-01T10:01:00.000000Z",
         "window_end": "2026-11-01T10:02:00.000000Z", "value": value, "baseline": baseline,
         "scale": scale, "score": score, "threshold": 6.0, "direction": "high",
         "severity": "warning", "detected_at": "2026-11-01T10:02:00.000000Z"}
        for metric, value, baseline, scale, score in (
            ("error_rate", 1.0, 0.0, 0.1, 10.0), ("latency_p95_ms", 900.0, 120.0, 40.0, 19.5),
        )
    ]  # fmt: skip
    assert call(f"{ui_url}/api/anomalies?{RANGE}&project=other").body["items"] == []


def test_the_openapi_document_and_the_pages_are_served(ui_url: str) -> None:
    doc = call(f"{ui_url}/api/openapi.json").body
    assert doc["openapi"] == "3.1.0" and "/api/traces" in doc["paths"]
    index = call(f"{ui_url}/")
    assert index.status == 200 and '"/static/js/app.js"' in index.body
    assert call(f"{ui_url}/static/js/trace.js").status == 200


def test_the_pages_files_come_with_their_type_and_tag(ui_url: str) -> None:
    script = call(f"{ui_url}/static/js/trace.js")
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert script.body == (STATIC_DIR / "js" / "trace.js").read_text(encoding="utf-8")
    assert script.headers["cache-control"] == "no-cache"
    again = call(f"{ui_url}/static/js/trace.js", headers={"If-None-Match": script.headers["etag"]})
    assert (again.status, again.body) == (304, "")
    assert call(f"{ui_url}/static/style.css").headers["content-type"] == "text/css; charset=utf-8"
    index = call(f"{ui_url}/")
    assert index.headers["content-type"] == "text/html; charset=utf-8"
    for missing in ("js/nope.js", "../_app.py", "%2e%2e/_app.py", "js"):
        assert call(f"{ui_url}/static/{missing}").status == 404, missing


def test_a_trace_still_running_shows_its_spans_before_its_trace_row(ui_url: str) -> None:
    data = call(f"{ui_url}/api/traces/{0xB7:032x}").body
    assert data["trace"] is None
    assert data["start_time"] == "2026-11-01T12:30:00.000000Z"
    assert [(s["name"], s["depth"], s["start_ms"], s["end_ms"], s["critical"]) for s in data["spans"]] == [
        ("still-running", 0, 0.0, None, True), ("search", 1, 5.0, 25.0, True),
    ]  # fmt: skip
