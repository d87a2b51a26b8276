"""Each detector: positives in many formats, look-alikes that must stay untouched."""

from __future__ import annotations

import pytest

from tracestream.streams import Redactor

pytestmark = pytest.mark.unit

R = Redactor()

POSITIVES = {
    "email": [
        "jane.doe@example.com", "J.Smith+news@mail.example.co.uk", "o'connor@example.ie",
        "a_b-c@sub.domain.travel", "USER99@ACME.IO",
    ],
    "phone": [
        "+1 415-555-2671", "(415) 555-2671", "415.555.2671", "+44 20 7946 0958", "020 7946 0958",
        "+49 30 901820", "+33 1 42 68 53 00", "+5511961234567", "+91 98765 43210", "1-415-555-2671",
    ],
    "credit_card": [
        "4111 1111 1111 1111", "4111-1111-1111-1111", "4111111111111111", "5500 0000 0000 0004",
        "3782 822463 10005", "6011 1111 1111 1117", "5105105105105100",
    ],
    "iban": [
        "GB82 WEST 1234 5698 7654 32", "GB82WEST12345698765432", "DE89 3704 0044 0532 0130 00",
        "NL91ABNA0417164300", "FR14 2004 1010 0505 0001 3M02 606", "ES91 2100 0418 4502 0005 1332",
    ],
    "ipv4": ["203.0.113.42", "10.0.3.17", "192.168.1.20", "8.8.8.8", "172.16.254.1"],
    "ipv6": [
        "2001:db8:85a3::8a2e:370:7334", "fe80::1ff:fe23:4567:890a", "2a00:1450:4001:81c::200e",
        "2001:0db8:0000:0000:0000:ff00:0042:8329",
    ],
    "us_ssn": ["078-05-1120", "219 09 9999", "123-45-6789"],
    "api_key": [
        "sk-proj-Hq8vT2mZ4kLw9XcB1nR7pYdF3sGaJ6eU0iO5tQyV8bN2xMc",
        "ghp_R4nd0mT0k3nAbCdEfGhIjKlMnOpQrStUvWx12", "AKIA2W7Q4ZJ5XK3MBR6T",
        "xoxb-2048-40967351982-Ab3dEfGh1jKlMn0pQr5tUvWx", "hf_aBcDeFgHiJkLmNoPqRsTuVwXyZqWeRtYuI",
        "sk_live_51HxYzAbCdEfGh7391846205", "glpat-Ab3dEfGh1jKlMn0pQr5t",
        "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW",
    ],
    "jwt": [
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
        "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
        "eyJhbGciOiJub25lIn0.eyJ1c2VyIjoiYWRtaW4ifQ.",
    ],
    "private_key": [
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn\n-----END RSA PRIVATE KEY-----",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ",
    ],
}  # fmt: skip

NEGATIVES = [
    "order #112-4459832-7781234 shipped", "ORD-2026-448812", "invoice INV-2026-000184",
    "version 1.2.3.4", "v2.4.1", "build 10.0.19045.3693", "OID 1.3.6.1.4.1.8998.1",
    "550e8400-e29b-41d4-a716-446655440000", "trace 4bf92f3577b34da6a3ce929d0e0e4736",
    "2026-11-24T07:30:00.123456Z", "11/24/2026 07:30", "10:30:00",
    "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "$1,234,567.89", "EUR 49,90", "4242 4242 4242 4241", "DE90 3704 0044 0532 0130 00",
    "000-12-3456", "987654321 units", "listen 0.0.0.0:8080", "127.0.0.1", "255.255.255.0",
    "300.1.2.3", "std::vector<int>", "MAC 3C:22:FB:7A:91:0E", "@app.route('/x')", "icon@2x.png",
    "git@github.com:acme/app.git", "npm i @types/node@20.11.5", "scikit-learn-intelex",
    "task-management-dashboard-for-teams", "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0\n-----END PUBLIC KEY-----",
    "ISBN 978-3-16-148410-0", "Timestamp 1732435200123", "908-500-133 6 x 62", "Bound to [::]:443 and [::1]",
    "Dial 911", "PID 48213 exited with code 137", "Coordinates 37.7749, -122.4194",
]  # fmt: skip


@pytest.mark.parametrize(
    ("detector", "value"), [(d, v) for d, values in POSITIVES.items() for v in values]
)
@pytest.mark.parametrize("frame", ["{}", "value: {} end", '{{"k": "{}"}}', "({})"])
def test_positive_found_whole(detector: str, value: str, frame: str) -> None:
    text = frame.format(value)
    start = text.index(value)
    found = R.scan(text)
    if detector == "private_key" and "-----END" not in value:
        # a truncated key block is redacted to the end of the string: fail safe
        assert [(f.detector, f.start, f.end) for f in found] == [(detector, start, len(text))]
        return
    assert [(f.detector, f.start, f.end) for f in found] == [
        (detector, start, start + len(value))
    ], text


@pytest.mark.parametrize("text", NEGATIVES)
def test_lookalike_untouched(text: str) -> None:
    assert R.scan(text) == []
    assert R.redact_text(text) == (text, [])


def test_bare_numbers_need_context() -> None:
    assert R.scan("ticket 123456789 closed") == []
    assert [f.detector for f in R.scan("SSN 123456789")] == ["us_ssn"]
    assert R.scan("account 4155552671 closed") == []
    assert [f.detector for f in R.scan("call me on 4155552671")] == ["phone"]


def test_bearer_token_and_jwt_in_header() -> None:
    jwt = POSITIVES["jwt"][0]
    found = R.scan(f"Authorization: Bearer {jwt}")
    assert [f.detector for f in found] == ["jwt"]
    opaque = "ya29.a0AfH6SMBx9kLmNoPqRsTuVwXyZaBcDeFgHiJk"
    found = R.scan(f"Authorization: Bearer {opaque}")
    assert [(f.detector, f.end - f.start) for f in found] == [("api_key", len(opaque))]
