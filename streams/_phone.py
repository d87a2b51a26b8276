"""Phone number candidates confirmed: which readings of a run of digits count.

A run of digits and ``+().-`` separators is a phone number when one of these
holds, strictest first:

* ``+`` and a valid international number, in any grouping;
* a valid number of a default region (``phonenumbers``), written compactly or
  grouped as that region writes it, or in any grouping where a word before it
  ("phone", "call", "tel", ...) says what it is;
* an international call prefix (``00``, ITU-T E.164's recommended one, or
  NANP's ``011``) and a valid international number, with a separator in it: the
  same number as the ``+`` form, as dialled;
* a number the text calls a phone by a whole word right before it ("call",
  "phone", "mobile", "whatsapp" ...), of 9 to 13 digits in any grouping: another
  country's national format. Validity in *some* numbering plan proves nothing
  there (``0123456789`` is valid in nineteen regions' plans), so the word is
  the evidence.

A bare run of digits with no such word is never a phone number: it is an id,
an amount, a timestamp far more often.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ._validators import end_ok, phone_ok

__all__ = ["phone_check"]

# Words that name the next number a phone number, whole: not "telemetry", "cancelled",
# "iphone"; "homePhone" and "mobileNo" are keys that name one.
_PHONE_WORD = re.compile(
    r"(?<!i)phones?|mobiles?|whatsapp|text me"
    r"|(?<![a-z])(?:tel|call(?:ing)?|cell|sms|fax)(?![a-z])"
)
# Substrings of every match of _PHONE_WORD.
_PHONE_STEMS = ("phone", "mobile", "whatsapp", "text me", "tel", "call", "cell", "sms", "fax")
# Dates ("2024-11-15 10:30", "15.11.2024") are digits and separators too.
_DATE = re.compile(
    r"(?:[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}|[0-9]{1,2}[-./][0-9]{1,2}[-./][0-9]{2,4})(?![0-9])"
)
_PHONE_SEPARATORS = str.maketrans("", "", " ().-+")
_DOTTED_QUAD = re.compile(r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}(?![0-9])")
_INTERNATIONAL_PREFIX = re.compile(r"(?:00|011)(?=[ -]?[1-9])")


# What may stand between a phone word and the number it names, in the strict reading.
_LINKING_WORDS = frozenset(
    ("me", "us", "him", "her", "them", "at", "on", "to", "is", "my", "our", "the", "no", "nr",
     "num", "number", "or")
)  # fmt: skip
_WORDS = re.compile(r"[a-z]+")


def _called_a_phone(text: str, start: int, strict: bool = False) -> bool:
    """True when a phone word before ``start`` names the number there: no digit between
    them, within 32 characters; ``strict``: within 12, with only linking words between
    ("call me at ", "mobile no.: ")."""
    head = text[max(0, start - 32) : start].lower()
    if not any(word in head for word in _PHONE_STEMS):
        return False  # the common case, found by substring tests alone
    ends = [m.end() for m in _PHONE_WORD.finditer(head)]
    if not ends:
        return False
    gap = head[ends[-1] :]
    if any(ch.isdigit() for ch in gap):
        return False
    return not strict or (len(gap) <= 12 and _LINKING_WORDS.issuperset(_WORDS.findall(gap)))


def _candidate_ok(raw: str, regions: tuple[str, ...], text: str, start: int) -> bool:
    digits = len(raw.translate(_PHONE_SEPARATORS))  # raw holds digits and these only
    if "." in raw:
        # dotted quads (IP addresses) and OIDs are not phone numbers
        if _DOTTED_QUAD.match(raw) or any(len(g) == 1 for g in raw.split(".")[1:]):
            return False
    if raw[0] == "+":
        return digits >= 8 and phone_ok(raw, regions)
    if raw.count(".") == 1 or _DATE.match(raw) is not None:
        return False
    if not raw.isdigit():
        prefix = _INTERNATIONAL_PREFIX.match(raw)
        if prefix is not None and 8 <= digits - len(prefix.group()) <= 15:
            if phone_ok("+" + raw[prefix.end() :].lstrip(" -"), regions):
                return True
    if 10 <= digits <= 12:
        named = _called_a_phone(text, start)
        # Where the text says it is a phone number, any grouping of a valid number will
        # do ("my phone number is 425 8829090"); elsewhere only the region's own grouping.
        if (named or not raw.isdigit()) and phone_ok(raw, regions, named):
            return True
        if not named:
            return False  # nor in the strict sense below
    elif not 9 <= digits <= 13:
        return False
    # "call me at ", "mobile no.: ": the word right before the number
    return "." not in raw and _called_a_phone(text, start, strict=True)


# An extension after the number ("+44 20 3456 7890x456", "ext. 12"): the number ends
# before it.
_EXTENSION = re.compile(r"(?:x|ext\.?|extension|#) ?[0-9]{1,6}(?![0-9A-Za-z])", re.IGNORECASE)


def phone_check(
    regions: tuple[str, ...],
) -> Callable[[str, re.Match[str]], tuple[int, int] | None]:
    """The check of the phone detector: a run's match -> the number in it, or None.

    ``regions``: the default regions whose national formats are read without a
    word that names the number a phone.
    """
    glue = frozenset("-_./\\#+")

    def attempt(text: str, start: int, raw: str) -> tuple[int, int] | None:
        # A run may hold a number and then more digits ("+44 20 7946 0958 16 x"):
        # drop trailing space-separated groups until the rest is valid.
        for _ in range(4):
            stop = start + len(raw)
            ends = end_ok(text, stop) or _EXTENSION.match(text, stop) is not None
            if ends and _candidate_ok(raw, regions, text, start):
                return start, stop
            cut = raw.rfind(" ")
            if cut < 7:
                return None
            raw = raw[:cut].rstrip(" (")
        return None

    def check(text: str, m: re.Match[str]) -> tuple[int, int] | None:
        start = m.start()
        raw = m.group()
        while raw[0] == "(" and raw.count("(") > raw.count(")"):
            start += 1
            raw = raw[1:]
        if start > 0 and (text[start - 1].isalnum() or text[start - 1] in glue):
            return None
        found = attempt(text, start, raw)
        # ... or digits and then a number ("SD 20241 440-600-5124", a ZIP code first):
        # drop up to two short leading groups.
        for _ in range(2):
            if found is not None:
                break
            cut = raw.find(" ")
            if not 0 < cut <= 6 or len(raw) - cut - 1 < 10 or not raw[:cut].isdigit():
                break
            start += cut + 1
            raw = raw[cut + 1 :]
            found = attempt(text, start, raw)
        return found

    return check
