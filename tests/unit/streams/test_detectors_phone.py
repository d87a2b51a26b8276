"""Phone forms beyond the default regions (issue 15 item 3): another country's national
format where a phone word names it, international call prefixes (ITU-T E.164's 00,
NANP's 011); and the digit runs near such words that must not fire."""

from __future__ import annotations

import pytest

from tracestream.streams import Redactor

pytestmark = pytest.mark.unit

R = Redactor()


def found(text: str) -> list[tuple[str, str]]:
    return [(f.detector, text[f.start : f.end]) for f in R.scan(text)]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Please call me at 06 12 34 56 78 tonight", "06 12 34 56 78"),  # French mobile
        ("mobile: 080-2468-1357", "080-2468-1357"),  # Japanese mobile
        ("whatsapp 0412 345 678", "0412 345 678"),  # Australian mobile
        ("Telephone no. 04 12 34 56 78", "04 12 34 56 78"),
        ('{"homePhone": "030 1234 5678"}', "030 1234 5678"),
    ],
)
def test_national_formats_named_a_phone(text: str, value: str) -> None:
    assert found(text) == [("phone", value)]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("dial 0049 30 12345678 for Berlin", "0049 30 12345678"),
        ("from the US dial 011 33 6 12 34 56 78", "011 33 6 12 34 56 78"),
        ("reach us on 0044-20-7946-0958", "0044-20-7946-0958"),
    ],
)
def test_international_call_prefix(text: str, value: str) -> None:
    assert found(text) == [("phone", value)]


@pytest.mark.parametrize(
    "text",
    [
        "cancelled order 1234567890",  # "cell" inside a word
        "telemetry batch 0123456789",  # "tel" inside a word
        "my iphone 0123456789 serial",
        "call count 0612345678",  # a word between that does not link the two
        "sms verification id 123456789",
        "Call scheduled 2024-11-15 10:30",  # a date and a time
        "call me on 15.11.2024 09 00",
        "invoice 0012345678901 paid",  # a compact id with leading zeros is no call prefix
    ],
)
def test_digit_runs_that_are_not_phones(text: str) -> None:
    assert found(text) == []


def test_unnamed_national_formats_of_other_countries_are_not_claimed() -> None:
    # A bare run of digits is an id or an amount far more often than a phone number.
    assert found("ref 06 12 34 56 78") == []
    assert found("080-2468-1357") == []
