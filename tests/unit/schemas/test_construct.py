"""construct: instances share one fields set, and nothing pydantic does to them changes it."""

from __future__ import annotations

import sys

import pytest

from tests.unit.streams._spans import at, whole
from tracestream.schemas import SpanEvent, Usage
from tracestream.schemas._construct import construct, construct_from
from tracestream.schemas._fast_parse import fast_validate

pytestmark = pytest.mark.unit


def _event() -> SpanEvent:
    parsed = fast_validate(
        whole(1, None, 0, 1, usage={"input_tokens": 3}).model_dump_json().encode()
    )
    assert isinstance(parsed, SpanEvent)
    return parsed


def test_instances_share_the_set_of_all_fields() -> None:
    a, b = _event(), _event()
    assert a.__pydantic_fields_set__ is b.__pydantic_fields_set__
    assert a.model_fields_set == set(SpanEvent.model_fields)
    # What sharing saves per held event (the set outweighs the instance's dict).
    assert sys.getsizeof(a.__pydantic_fields_set__) > sys.getsizeof(a.__dict__)


def test_assignment_and_copies_leave_the_shared_set_as_it_was() -> None:
    from tracestream.streams._trace_state import SpanState  # mutable, unlike wire models

    span = construct(SpanState)
    shared = span.__pydantic_fields_set__
    span.emitted_version = 2  # pydantic adds the name: already there
    assert (
        shared == set(SpanState.model_fields)
        and construct(SpanState).__pydantic_fields_set__ is shared
    )
    usage = construct(Usage, input_tokens=1)
    copied = usage.model_copy(update={"cached_tokens": 2})
    deep = usage.model_copy(deep=True)
    assert copied.__pydantic_fields_set__ is not usage.__pydantic_fields_set__
    assert deep.__pydantic_fields_set__ is not usage.__pydantic_fields_set__
    assert usage.__pydantic_fields_set__ == set(Usage.model_fields)
    assert (copied.cached_tokens, usage.cached_tokens) == (2, 0)


def test_a_partial_dict_is_filled_with_defaults() -> None:
    usage = construct_from(Usage, {"input_tokens": 7})
    assert usage == Usage(input_tokens=7)
    assert usage.model_fields_set == set(Usage.model_fields)


def test_redaction_keeps_a_full_set_and_extends_a_partial_one() -> None:
    from tracestream.streams._redaction import Redactor

    constructed = whole(1, None, 0, 1, input="mail jane.doe@example.com")
    parsed = fast_validate(constructed.model_dump_json().encode())
    assert parsed is not None
    redacted, _ = Redactor().redact_event(parsed)
    assert redacted.__pydantic_fields_set__ is parsed.__pydantic_fields_set__
    # A validated event holds only what was given: its copy gets a set of its own.
    redacted_v, _ = Redactor().redact_event(constructed)
    assert redacted_v.__pydantic_fields_set__ is not constructed.__pydantic_fields_set__
    assert "input" in redacted_v.model_fields_set
    assert at(0) == constructed.start_time
