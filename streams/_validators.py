"""Cheap checks that turn regex candidates into findings.

Each function looks only at the candidate (and, for the context rules, a few
characters before it), so the cost is paid per candidate, not per byte.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import re
from collections import Counter
from collections.abc import Callable

__all__ = [
    "IBAN_LENGTHS",
    "VALIDATORS",
    "VERSION_WORDS",
    "boundary_ok",
    "card_prefix_ok",
    "end_ok",
    "entropy_ok",
    "has_keyword_before",
    "iban_ok",
    "ipv4_ok",
    "ipv6_ok",
    "luhn_ok",
    "phone_ok",
    "placeholder",
    "random_ok",
    "ssn_ok",
]

#: IBAN length per country (SWIFT IBAN registry).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
    "BH": 22, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24,
    "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31,
    "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
    # joined the registry since 2020 (SWIFT IBAN Registry releases)
    "BI": 27, "DJ": 27, "FK": 18, "LY": 25, "MN": 20, "NI": 28, "OM": 23, "RU": 33,
    "SD": 18, "SO": 23, "YE": 30,
}  # fmt: skip

#: Words before a number that make it a version, not a value ("v 1.2.3.4", "build
#: 219.09.9999"); matched as the end of the lower-cased text before it.
VERSION_WORDS = ("version", "ver ", "v", "release", "build", "firmware", "oid")

# Characters that glue a candidate to a larger token (an id, a path, a version).
_GLUE = frozenset("-_./\\#")


def boundary_ok(text: str, start: int, end: int, glue: frozenset[str] = _GLUE) -> bool:
    """True when ``text[start:end]`` is not part of a larger word, number or identifier."""
    if start > 0:
        before = text[start - 1]
        if before.isalnum() or before in glue:
            return False
    return end_ok(text, end)


def end_ok(text: str, end: int) -> bool:
    """True when the value ending at ``end`` is not continued by a word or number."""
    if end < len(text):
        after = text[end]
        if after.isalnum() or after == "_":
            return False
        # "1.2.3.4.5", "555-123-4567-89": the run continues after a separator.
        if after in "-./" and end + 1 < len(text) and text[end + 1].isdigit():
            return False
    return True


def has_keyword_before(text: str, start: int, keywords: tuple[str, ...], window: int = 32) -> bool:
    """True when one of ``keywords`` (lower case) occurs in the ``window`` chars before
    ``start`` with no digit between it and ``start`` (so it labels this number, not an
    earlier one)."""
    head = text[max(0, start - window) : start].lower()
    for word in keywords:
        at = head.rfind(word)
        if at >= 0 and not any(ch.isdigit() for ch in head[at + len(word) :]):
            return True
    return False


# Each digit's contribution when doubled, as a digit again (2*7 = 14 -> 1+4 = 5).
_DOUBLED = str.maketrans({str(d): str(2 * d - 9 if d > 4 else 2 * d) for d in range(10)})


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) checksum of payment card numbers."""
    if digits.isascii() and digits.isdigit():
        # The byte sums run in C: ASCII digit d is byte 48 + d.
        total = sum(digits[::-2].encode()) + sum(digits[-2::-2].translate(_DOUBLED).encode())
        return (total - 48 * len(digits)) % 10 == 0
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


# (first IIN, last IIN, lengths) per scheme; IIN ranges compared on the number's first
# len(str(first)) digits. From the schemes' published ranges as collected in ISO/IEC
# 7812 listings (Wikipedia "Payment card number", IIN ranges table): Visa 4 (13, 16,
# 19); Mastercard 51-55 and 2221-2720 (16); Amex 34, 37 (15); Discover 6011, 644-649,
# 65 (16-19); JCB 3528-3589 (16-19); Diners 300-305, 36, 38, 39 (14-19); UnionPay 62
# and 81 (16-19); Maestro 50, 56-69 (12-19: Mastercard's Maestro rules) incl. Maestro UK
# 6759; Dankort 5019 (16); UATP 1 (15); Mir 2200-2204 (16-19); RuPay 60, 65, 81, 82,
# 508 (16); Verve 506099-506198, 650002-650027 (16, 18, 19); Troy 9792 (16); LankaPay
# 357111 (16).
_CARD_RANGES: tuple[tuple[int, int, frozenset[int]], ...] = (
    (4, 4, frozenset((13, 16, 19))),
    (51, 55, frozenset((16,))),
    (2221, 2720, frozenset((16,))),
    (34, 34, frozenset((15,))),
    (37, 37, frozenset((15,))),
    (6011, 6011, frozenset(range(16, 20))),
    (644, 649, frozenset(range(16, 20))),
    (65, 65, frozenset(range(16, 20))),
    (3528, 3589, frozenset(range(16, 20))),
    (300, 305, frozenset(range(14, 20))),
    (36, 36, frozenset(range(14, 20))),
    (38, 39, frozenset(range(14, 20))),
    (62, 62, frozenset(range(16, 20))),
    (81, 82, frozenset(range(16, 20))),
    (50, 50, frozenset(range(12, 20))),
    (56, 69, frozenset(range(12, 20))),
    (1, 1, frozenset((15,))),
    (2200, 2204, frozenset(range(16, 20))),
    (9792, 9792, frozenset((16,))),
)


def card_prefix_ok(digits: str) -> bool:
    """Issuer prefix (IIN range) and length of a payment card scheme (``_CARD_RANGES``)."""
    n = len(digits)
    for first, last, lengths in _CARD_RANGES:
        width = len(str(first))
        if first <= int(digits[:width]) <= last and n in lengths:
            return True
    return False


def iban_ok(compact: str) -> bool:
    """Country length and the ISO 13616 mod-97 checksum of an IBAN without spaces."""
    if IBAN_LENGTHS.get(compact[:2]) != len(compact):
        return False
    rearranged = compact[4:] + compact[:4]
    try:
        number = int("".join(str(int(ch, 36)) for ch in rearranged))
    except ValueError:
        return False
    return number % 97 == 1


def ssn_ok(digits: str) -> bool:
    """SSA rules: no area 000, 666 or 9xx; no group 00; no serial 0000."""
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return not (area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000")


def ipv4_ok(candidate: str, named: bool = False) -> bool:
    """A dotted quad that names a host. Never ``0.x`` (``0.0.0.0`` is the "any"
    wildcard); loopback ``127.x`` and ``255.x`` (broadcast, netmasks) only when
    ``named``: the text calls the value an address."""
    parts = candidate.split(".")
    for part in parts:
        if len(part) > 1 and part[0] == "0":
            return False
        if int(part) > 255:
            return False
    return parts[0] != "0" and (named or parts[0] not in ("127", "255"))


def ipv6_ok(candidate: str, named: bool = False) -> bool:
    """A valid IPv6 address other than the unspecified one (``::``); the loopback
    ``::1`` only when ``named``: the text calls the value an address."""
    if candidate.count(":") < 2 or len(candidate) < 3:
        return False
    try:
        address = ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return not (address.is_unspecified or (address.is_loopback and not named))


_NON_DIGITS = re.compile(r"[^0-9]+")


def _groups(text: str) -> list[str]:
    return [g for g in _NON_DIGITS.split(text) if g]


@functools.lru_cache(maxsize=4096)
def phone_ok(candidate: str, regions: tuple[str, ...], any_grouping: bool = False) -> bool:
    """phonenumbers' validity check (length and ranges of the numbering plan).

    ``+``-prefixed candidates are parsed as international, in any grouping.
    Others are tried against each default region in turn and must be written
    compactly or grouped as that region writes its numbers (``(201) 555-0123``,
    ``020 7946 0958``), which keeps arbitrary digit groups from passing, unless
    ``any_grouping`` (the text names it a phone number).
    """
    import phonenumbers

    international = candidate.startswith("+")
    tries: tuple[str | None, ...] = (None,) if international else regions
    groups = _groups(candidate)
    for region in tries:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if not phonenumbers.is_valid_number(number):
            continue
        if international or len(groups) == 1 or any_grouping:
            return True
        national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        expected = _groups(national)
        if groups == expected or (groups[0] in ("1", "0") and groups[1:] == expected):
            return True
    return False


# --- secrets --------------------------------------------------------------------------
# Words documentation puts where a key goes ("YOUR_API_KEY_HERE", "sk-...",
# AKIAIOSFODNN7EXAMPLE in AWS's docs, "<token>", "xxxx"): a real random key of
# 20+ characters holds one of them by chance with a probability below 1e-5.
_PLACEHOLDER_PARTS = (
    "example", "xxxx", "your", "here", "placeholder", "changeme", "change_me", "dummy",
    "redacted", "sample", "..", "****", "####", "${", "{{", "<", ">", "123456",
)  # fmt: skip
_PLACEHOLDER_VALUES = frozenset(
    ("password", "passwd", "pass", "secret", "pwd", "token", "apikey", "api_key", "null", "none")
)
_REPEAT = re.compile(r"([A-Za-z])\1{5}|0{6}")


def placeholder(value: str) -> bool:
    """True for documented stand-ins of a secret: example words, "xxxx", "123456", a
    letter six times in a row or six zeros (Slack's ``T00000000``), or a bare word such
    as ``password``."""
    lower = value.lower()
    if lower in _PLACEHOLDER_VALUES or _REPEAT.search(value) is not None:
        return True
    return any(part in lower for part in _PLACEHOLDER_PARTS)


def random_ok(value: str) -> bool:
    """Random enough for a prefixed key: after its first four characters, two or more of
    digits, upper and lower case, and ten or more distinct characters. Keeps words such
    as ``sk-task-management-dashboard`` from passing."""
    tail = value[4:]
    classes = (
        any(c.isdigit() for c in tail)
        + any(c.isupper() for c in tail)
        + any(c.islower() for c in tail)
    )
    return classes >= 2 and len(set(tail)) >= 10


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def entropy_ok(value: str) -> bool:
    """A value of a field named password/secret/token that looks generated or chosen as a
    secret: 8+ characters with letters and digits (two or more digits, or all of upper,
    lower and digits), Shannon entropy of 3 bits per character or more (most of the
    characters distinct), and not a date. ``max_tokens: 4096``, ``secret_name: db-v2``,
    ``tokenizer: AutoTokenizerFast`` do not pass; ``Summer2024!`` and a UUID do."""
    n = len(value)
    if n < 8:
        return False
    digits = sum(c.isdigit() for c in value)
    upper = any(c.isupper() for c in value)
    lower = any(c.islower() for c in value)
    if not (upper or lower) or not (digits >= 2 or (digits and upper and lower)):
        return False
    if _ISO_DATE.match(value):
        return False
    entropy = -sum(k / n * math.log2(k / n) for k in Counter(value).values())
    return entropy >= min(3.0, 0.8 * math.log2(n))


def _luhn_digits(value: str) -> bool:
    digits = "".join(c for c in value if c.isdigit())
    return len(digits) >= 2 and luhn_ok(digits)


#: Validators a detector entry may name (the built-in rules and ``redact_extra_patterns``).
VALIDATORS: dict[str, Callable[[str], bool]] = {
    "none": lambda value: True,
    "random": random_ok,
    "entropy": entropy_ok,
    "luhn": _luhn_digits,
    "iban": lambda value: iban_ok(value.replace(" ", "").replace("-", "").upper()),
}
