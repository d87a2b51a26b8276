"""OTLP/JSON read straight from the JSON converts exactly as through protobuf objects."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from benchmarks.otlp import make_batches
from tracestream.producers.otlp import UndecodableRequest
from tracestream.producers.otlp._codec import JSON, request_json
from tracestream.producers.otlp._convert import Conversion, convert_request
from tracestream.producers.otlp._json_spans import _walk, convert_body, convert_json_request
from tracestream.producers.otlp._otlp_json import OtlpJsonError, parse_otlp_json

pytestmark = pytest.mark.unit

FIXTURES = sorted((Path(__file__).parents[3] / "data" / "otlp").glob("*.pb"))


def _records(conversion: Conversion) -> Any:
    # A dead letter's timestamp header is the wall clock of its writing.
    return (
        [
            (r.key, r.value, [h for h in r.headers if not h[0].endswith("timestamp")], r.dlq)
            for r in conversion.records
        ],
        conversion.rejected,
        conversion.messages,
    )


def _reference(obj: Any) -> Any:
    try:
        return _records(convert_request(parse_otlp_json(obj), project="p", max_event_bytes=6000))
    except OtlpJsonError:
        return "refused"


def _direct(obj: Any, *, walked: bool) -> Any:
    if walked:  # the direct walk took it, not the reference path behind it
        _walk(obj, project="p", default_environment="development")
    try:
        return _records(convert_json_request(obj, project="p", max_event_bytes=6000))
    except OtlpJsonError:
        return "refused"


def _spec_style(obj: Any) -> Any:
    """``request_json``'s output as OTLP exporters write it: integer enums, numbers."""
    kinds = {"SPAN_KIND_INTERNAL": 1, "SPAN_KIND_SERVER": 2, "SPAN_KIND_CLIENT": 3}
    codes = {"STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}
    for rs in obj.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for span in ss.get("spans", []):
                if "kind" in span:
                    span["kind"] = kinds.get(span["kind"], 0)
                if "code" in span.get("status", {}):
                    span["status"]["code"] = codes.get(span["status"]["code"], 0)
                for key in ("startTimeUnixNano", "endTimeUnixNano"):
                    if key in span:
                        span[key] = int(span[key])
    return obj


@pytest.mark.parametrize("path", [*FIXTURES, None], ids=lambda p: p.name if p else "bench")
def test_fixtures_convert_alike(path: Path | None) -> None:
    if path is None:
        (request,) = make_batches(1, spans_per_batch=32)
    else:
        request = ExportTraceServiceRequest.FromString(path.read_bytes())
    obj = orjson.loads(request_json(request))
    expected = _records(convert_request(request, project="p", max_event_bytes=6000))
    assert _direct(obj, walked=True) == expected
    assert _direct(_spec_style(obj), walked=True) == expected


# Mostly valid ids, so most requests take the direct walk rather than its fallback.
_HEX = st.one_of(
    st.sampled_from(["5B8EFFF798038103D269B633813FC60C", "eee19b7ec3c1b174", ""]),
    st.text("0123456789abcdefABCDEF", min_size=0, max_size=34),
)
_SCALARS = st.one_of(
    st.text(max_size=12),
    st.integers(-(2**63), 2**64 - 1),  # what orjson reads
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.sampled_from(["NaN", "12", "-3", "x", "SPAN_KIND_SERVER", "STATUS_CODE_ERROR"]),
)
_ANY_KEYS = ["stringValue", "intValue", "doubleValue", "boolValue", "bytesValue", "other"]


def _any_value() -> st.SearchStrategy[Any]:
    leaf = st.dictionaries(st.sampled_from(_ANY_KEYS), _SCALARS, max_size=2)
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.fixed_dictionaries(
                {"arrayValue": st.fixed_dictionaries({"values": st.lists(inner, max_size=3)})}
            ),
            st.fixed_dictionaries(
                {
                    "kvlistValue": st.fixed_dictionaries(
                        {"values": st.lists(_key_value(inner), max_size=3)}
                    )
                }
            ),
        ),
        max_leaves=6,
    )


def _key_value(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries(
        {"key": st.sampled_from(["gen_ai.system", "gen_ai.request.model", "a", "session.id"])},
        optional={"value": value, "key_value": st.just("snake"), "keyStrindex": _SCALARS},
    )


_ATTRIBUTES = st.lists(_key_value(_any_value()), max_size=4)
_SPAN = st.fixed_dictionaries(
    {"traceId": _HEX, "spanId": _HEX, "name": st.text(max_size=8)},
    optional={
        "parentSpanId": _HEX,
        "kind": _SCALARS,
        "startTimeUnixNano": st.one_of(
            st.integers(-1, 2**64), st.sampled_from(["1700000000000000000"])
        ),
        "endTimeUnixNano": st.one_of(st.integers(0, 2**64 + 1), st.just("1700000000500000000")),
        "attributes": _ATTRIBUTES,
        "status": st.fixed_dictionaries({}, optional={"code": _SCALARS, "message": _SCALARS}),
        "events": st.lists(
            st.fixed_dictionaries(
                {"name": st.sampled_from(["exception", "gen_ai.user.message", "x"])},
                optional={"timeUnixNano": _SCALARS, "attributes": _ATTRIBUTES},
            ),
            max_size=2,
        ),
        "links": st.lists(
            st.fixed_dictionaries({"traceId": _HEX, "spanId": _HEX}, optional={"flags": _SCALARS}),
            max_size=2,
        ),
        "traceState": _SCALARS,
        "flags": _SCALARS,
        "droppedEventsCount": _SCALARS,
        "trace_state": st.text(max_size=3),
        "unknownField": _SCALARS,
    },
)
_REQUEST = st.fixed_dictionaries(
    {
        "resourceSpans": st.lists(
            st.fixed_dictionaries(
                {
                    "resource": st.fixed_dictionaries(
                        {"attributes": _ATTRIBUTES}, optional={"droppedAttributesCount": _SCALARS}
                    ),
                    "scopeSpans": st.lists(
                        st.fixed_dictionaries(
                            {"spans": st.lists(_SPAN, max_size=3)},
                            optional={
                                "scope": st.fixed_dictionaries(
                                    {}, optional={"name": _SCALARS, "version": st.text(max_size=4)}
                                ),
                                "schemaUrl": _SCALARS,
                            },
                        ),
                        max_size=2,
                    ),
                },
                optional={"schemaUrl": _SCALARS},
            ),
            max_size=2,
        )
    }
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_REQUEST)
def test_generated_requests_convert_or_are_refused_alike(obj: dict[str, Any]) -> None:
    expected = _reference(copy.deepcopy(obj))
    assert _direct(obj, walked=False) == expected


_ENUMS = st.one_of(
    st.integers(0, 6), st.sampled_from(["SPAN_KIND_SERVER", "STATUS_CODE_ERROR", "x", "3"])
)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(_SPAN, _ENUMS, _ENUMS, st.text(max_size=4), st.integers(0, 3)),
        min_size=1,
        max_size=3,
    )
)
def test_well_formed_generated_spans_take_the_direct_walk(
    drawn: list[tuple[dict[str, Any], Any, Any, str, int]],
) -> None:
    """Spans of valid shapes only (hex ids, in-range numbers): the walk must take them."""
    spans = []
    for span, kind, code, state, dropped in drawn:
        spans.append(
            {
                "traceId": "ab" * 16,
                "spanId": "cd" * 8,
                "name": span["name"],
                "attributes": span.get("attributes", []),
                "kind": kind,
                "status": {"code": code, "message": state},
                "traceState": state,
                "droppedLinksCount": dropped,
                "flags": dropped,
                "startTimeUnixNano": 1_700_000_000_000_000_000,
                "endTimeUnixNano": "1700000000500000000",
            }
        )
    obj = {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}
    try:
        parse_otlp_json(obj)
    except OtlpJsonError:
        return  # attribute values the reference refuses: not for this test
    walkable = all(_plain(kv) for span in spans for kv in span["attributes"])
    assert _direct(obj, walked=walkable) == _reference(obj)


def _plain(kv: Any) -> bool:
    """A key/value whose shape the walk reads itself (no fallback expected)."""
    if set(kv) - {"key", "value"}:
        return False
    return "value" not in kv or _plain_value(kv["value"])


def _plain_value(value: Any) -> bool:
    if len(value) != 1:
        return not value
    ((key, item),) = value.items()
    if key in ("arrayValue", "kvlistValue"):
        return all((_plain(v) if key == "kvlistValue" else _plain_value(v)) for v in item["values"])
    return key in ("stringValue", "intValue", "doubleValue", "boolValue") and item is not None


def test_a_body_that_is_not_otlp_is_refused() -> None:
    with pytest.raises(UndecodableRequest, match="not an OTLP/JSON"):
        convert_body(b'{"resourceSpans": 3}', JSON, project="p")
