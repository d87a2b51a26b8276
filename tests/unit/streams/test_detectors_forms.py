"""PII forms beyond the plain ones (issue 15 item 2): card schemes by IIN range and
length, IBANs with dashes or a space after the country code, dotted SSNs, IDN and
punycode e-mail domains, phone extensions and groupings, CIDR suffixes.

Numbers are built here from the published rules (IIN prefix + Luhn, ISO 13616
mod-97), not copied from anywhere.
"""

from __future__ import annotations

import pytest

from tracestream.streams import RedactionPolicy, Redactor
from tracestream.streams._validators import card_prefix_ok

pytestmark = pytest.mark.unit

R = Redactor()


def luhn_complete(body: str) -> str:
    """``body`` plus the Luhn check digit."""
    for check in "0123456789":
        digits = body + check
        total = 0
        for i, ch in enumerate(reversed(digits)):
            d = int(ch) * (2 if i % 2 else 1)
            total += d - 9 if d > 9 else d
        if total % 10 == 0:
            return digits
    raise AssertionError


def iban(country: str, bban: str) -> str:
    value = int("".join(str(int(c, 36)) for c in bban + country + "00"))
    return f"{country}{98 - value % 97:02d}{bban}"


def found(text: str) -> list[tuple[str, str]]:
    return [(f.detector, text[f.start : f.end]) for f in R.scan(text)]


# scheme -> (IIN prefix, length), per the ranges in streams/_validators.py
SCHEMES = {
    "maestro": ("6759", 16),
    "maestro_19": ("5018", 19),
    "unionpay": ("6212", 19),
    "unionpay_81": ("8171", 16),
    "dankort": ("5019", 16),
    "uatp": ("1354", 15),
    "mir": ("2202", 16),
    "rupay": ("6070", 16),
    "troy": ("9792", 16),
    "visa": ("4539", 16),
    "amex": ("3714", 15),
}


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_card_schemes_by_iin_and_length(scheme: str) -> None:
    prefix, length = SCHEMES[scheme]
    number = luhn_complete(prefix + "3141592653589793"[: length - len(prefix) - 1])
    assert len(number) == length and card_prefix_ok(number)
    assert found(f"card {number} charged") == [("credit_card", number)]
    bad = number[:-1] + str((int(number[-1]) + 1) % 10)  # Luhn fails
    assert found(f"card {bad} charged") == []


def test_card_lengths_outside_a_scheme_are_not_cards() -> None:
    assert not card_prefix_ok(luhn_complete("1354" + "1" * 11))  # UATP is 15 digits
    assert not card_prefix_ok(luhn_complete("9792" + "1" * 13))  # Troy is 16
    assert not card_prefix_ok(luhn_complete("7" + "1" * 15))  # no scheme starts with 7


def test_iban_with_dashes_dots_and_a_space_after_the_country() -> None:
    compact = iban("AL", "212110090000000235698741")
    dashed = "-".join(compact[i : i + 4] for i in range(0, len(compact), 4))
    assert found(f"IBAN {dashed}.") == [("iban", dashed)]
    spaced = f"{compact[:2]} {compact[2:4]} " + " ".join(
        compact[i : i + 4] for i in range(4, len(compact), 4)
    )
    assert found(f"account {spaced}") == [("iban", spaced)]
    mixed = compact[:8] + "-" + compact[8:12] + " " + compact[12:]
    assert found(mixed) == []  # two kinds of separator: not one IBAN


def test_iban_countries_that_joined_the_registry_lately() -> None:
    for country, bban in (("LY", "002048000020100120361"), ("OM", "0180000001299123456")):
        value = iban(country, bban)
        assert found(f"pay {value} now") == [("iban", value)]


def test_dotted_ssn_and_its_look_alikes() -> None:
    assert found("SSN 078.05.1124") == [("us_ssn", "078.05.1124")]
    assert found("record 219.09.9999 on file") == [("us_ssn", "219.09.9999")]
    assert found("firmware version 219.09.9999") == []
    assert found("see section 219.09.9999") == []
    assert found("my ssn is 219-099999") == [("us_ssn", "219-099999")]
    assert found("(7.264394, 165.058594)") == []  # one separator, not named an SSN


@pytest.mark.parametrize(
    "address",
    [
        "a@xn--80ak6aa92e.xn--p1ai",
        "jeff@例え.テスト",
        "hans.müller@example.de",
        "user@bücher.example",
    ],
)
def test_international_email(address: str) -> None:
    assert found(f"write to {address} today") == [("email", address)]


@pytest.mark.parametrize(
    "address",
    [
        '"jane doe"@example.com',  # RFC 5321 4.1.2 quoted local part
        '"jane\\"the boss\\""@example.com',  # with escaped quotes inside
        '"j@ne"@example.org',  # an "@" inside the quotes
        "ops@[192.0.2.17]",  # 4.1.3 address literals
        "ops@[IPv6:2001:db8::17]",
        "ops@[IPv6:2001:db8::192.0.2.17]",
        "सुनील@उदाहरण.भारत",  # Devanagari: vowel signs are combining marks, not \\w
        "jose\u0301@example.com",  # a decomposed accent
    ],
)
def test_rfc5321_email_forms(address: str) -> None:
    assert found(f"write to {address} today") == [("email", address)]


@pytest.mark.parametrize(
    "text",
    [
        '""@example.com',  # an empty quoted local part
        '"a""b"@example.com',  # two quoted strings side by side
        '"""@example.com',
        "root@[127.0.0.1]",  # loopback literals name no one's mailbox
        "root@[IPv6:::1]",
        "ops@[300.1.2.3]",  # not an address
        "ops@[IPv6:2001:db8::zz]",
    ],
)
def test_email_forms_that_are_not_addresses(text: str) -> None:
    assert [d for d, _ in found(text) if d == "email"] == []


@pytest.mark.parametrize(
    "text",
    [
        "somename@"
        + "".join(chr(0xFEE0 + ord(c)) for c in "example")
        + ".com",  # full-width: not a registrable name
        "me@" + "λ" + "1" * 60 + ".com",  # a label over 63 octets once punycode-encoded
        "me@" + ".".join(["a" * 60] * 5) + ".com",  # an address over 254 octets
    ],
)
def test_email_names_that_cannot_exist(text: str) -> None:
    assert [d for d, _ in found(text)] == []


def test_phone_extension_grouping_and_a_leading_zip() -> None:
    assert found("+44 20 7946 0958x456") == [("phone", "+44 20 7946 0958")]
    assert found("call (415) 555-2671 ext. 12") == [("phone", "(415) 555-2671")]
    assert found("my phone number is 415 5552671") == [("phone", "415 5552671")]
    assert found("reference 415 5552671") == []  # that grouping only where named a phone
    assert found("Springfield, SD 57001 415-555-2671") == [("phone", "415-555-2671")]


def test_phone_default_regions_are_configurable() -> None:
    national = "030 90182012"  # a Berlin number written nationally
    german = Redactor(RedactionPolicy(phone_regions=("DE",)))
    assert [(f.detector, national) for f in german.scan(f"tel {national}")] == [("phone", national)]


def test_ipv4_with_a_cidr_suffix() -> None:
    assert found("allow 10.20.30.40/24 only") == [("ipv4", "10.20.30.40")]
    # a prefix out of range, or a path: the address before it is one all the same
    assert found("10.20.30.40/33") == [("ipv4", "10.20.30.40")]
    assert found("10.20.30.40/24x") == []
