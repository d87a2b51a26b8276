"""The built-in detectors: compiled regexes that find candidates, validators that confirm them.

Speed comes from never scanning for what cannot be there: every detector has a
cheap gate (a literal that must occur, or "has a digit") checked with ``in``
or one fast search before its regex runs, and every regex starts with a
literal or a single character class so ``re`` can skip ahead without trying
each position. Validators (Luhn, mod-97, phonenumbers, ipaddress) run only on
candidates.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from ._ip import ipv4_span, ipv6_span
from ._jwt import JWT_GATES, JWT_PATTERN, jwt_span
from ._phone import phone_check
from ._secrets import SECRET_RULES, PrefixDetector, api_key_detector
from ._validators import (
    IBAN_LENGTHS,
    VERSION_WORDS,
    boundary_ok,
    card_prefix_ok,
    has_keyword_before,
    iban_ok,
    luhn_ok,
    ssn_ok,
)

__all__ = [
    "BUILTIN_DETECTORS",
    "LiteralDetector",
    "PrefixDetector",
    "RegexDetector",
    "RunDetector",
    "builtin_detectors",
    "builtin_triage",
    "shortest_match",
]

Check = Callable[[str, "re.Match[str]"], "tuple[int, int] | None"]
_has_digit = re.compile(r"[0-9]").search
_DIGITS = frozenset("0123456789")


@dataclass(frozen=True, slots=True)
class RegexDetector:
    """Candidates from ``pattern`` (group ``value`` if present), confirmed by ``check``.

    ``gates``: the detector runs only if one of these literals occurs in the text
    (empty: always; ``("0-9",)`` is the special gate "has a digit").
    """

    name: str
    pattern: re.Pattern[str]
    check: Check | None = None
    gates: tuple[str, ...] = ()
    _group: int | str = field(init=False, default=0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_group", "value" if "value" in self.pattern.groupindex else 0)

    def find(self, text: str) -> Iterator[tuple[int, int]]:
        gates = self.gates
        if gates:
            if gates[0] == "0-9":
                if _has_digit(text) is None:
                    return
            else:
                for gate in gates:
                    if gate in text:
                        break
                else:
                    return
        check = self.check
        group = self._group
        for match in self.pattern.finditer(text):
            if check is None:
                yield match.span(group)
                continue
            span = check(text, match)
            if span is not None:
                yield span


@dataclass(frozen=True, slots=True)
class LiteralDetector:
    """Whole-word, case-insensitive occurrences of deny-listed literals."""

    name: str
    literals: tuple[str, ...]
    _pattern: re.Pattern[str] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        words = sorted({w for w in self.literals if w}, key=len, reverse=True)
        if words:
            alternation = "|".join(re.escape(w) for w in words)
            compiled = re.compile(rf"(?<!\w)(?:{alternation})(?!\w)", re.IGNORECASE)
            object.__setattr__(self, "_pattern", compiled)

    def find(self, text: str) -> Iterator[tuple[int, int]]:
        if self._pattern is not None:
            for match in self._pattern.finditer(text):
                yield match.span()


# Numeric detectors share one scan per text for runs of digits and separators; their
# own regexes then run only inside runs long enough to hold a match. The memo holds
# one (text, runs) pair: a tuple swap, so sharing a detector between threads is safe.
_RUN_START, _RUN_NEXT = r"[+(0-9]", r"(?:[0-9().-]| (?=[0-9(+]))"
# The same runs, matched a block of characters at a time and possessively: a run ends
# where its characters end, so backtracking could never help.
_RUN = re.compile(r"[+(0-9](?:[0-9().-]++| (?=[0-9(+]))*+")
_runs_memo: tuple[str, list[tuple[int, int]]] = ("", [])


def numeric_runs(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each maximal run of digits, ``+().-`` and single spaces."""
    global _runs_memo
    memo = _runs_memo
    if memo[0] is text:
        return memo[1]
    runs = [m.span() for m in _RUN.finditer(text)]
    # Every digit is in a run, so looking inside the runs (the first one, as a rule)
    # answers "any digit in the text?" without another pass over all of it.
    for start, end in runs:
        if _has_digit(text, start, end) is not None:
            break
    else:
        runs = []
    _runs_memo = (text, runs)
    return runs


@dataclass(frozen=True, slots=True)
class RunDetector:
    """A numeric detector: ``pattern`` runs inside numeric runs of at least ``min_len``.

    With ``lead`` > 0 the value starts ``lead`` characters before the run
    (an IBAN's country code): ``pattern`` is matched there when those
    characters are upper-case letters and the run starts with ``lead`` digits.
    """

    name: str
    pattern: re.Pattern[str]
    check: Check
    min_len: int
    lead: int = 0

    def find(self, text: str) -> Iterator[tuple[int, int]]:
        check, pattern, min_len, lead = self.check, self.pattern, self.min_len, self.lead
        for start, end in numeric_runs(text):
            if lead:
                begin = start - lead
                if end - start < lead or begin < 0:
                    continue
                head = text[begin:start]
                if not (head.isalpha() and head.isupper()):
                    # "ES 58 0049 ...": a space between the country code and the digits
                    begin -= 1
                    head = text[begin : start - 1]
                    if begin < 0 or text[start - 1] != " " or not head.isupper():
                        continue
                match = pattern.match(text, begin)
                if match is not None and (span := check(text, match)) is not None:
                    yield span
            elif end - start >= min_len:
                for match in pattern.finditer(text, start, end):
                    if (span := check(text, match)) is not None:
                        yield span


# --- email: anchored on "@", local part found by scanning back -------------------------
# Labels and TLDs may be Unicode (IDN, RFC 5890) or their punycode form (xn--...);
# the local part may hold non-ASCII letters (RFC 6531). Python's \w leaves out the
# combining marks many scripts write words with (Devanagari vowel signs, decomposed
# accents), so they are added where a letter may stand.
_MARKS = (
    "\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u064b-\u065f"
    "\u0900-\u0dff\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
)
# The domain is a name or an address literal (RFC 5321 4.1.3: "[192.0.2.1]",
# "[IPv6:2001:db8::1]"), the literal checked by ``ipaddress``.
_EMAIL_DOMAIN = re.compile(
    rf"@(?:(?:(?:[^\W_]|[{_MARKS}])(?:[\w{_MARKS}-]{{0,61}}(?:[^\W_]|[{_MARKS}]))?\.)+"
    rf"(?:(?:[^\W\d_]|[{_MARKS}]){{2,24}}|xn--[A-Za-z0-9-]{{1,59}})(?![\w-])"
    r"|\[(?P<literal>IPv6:[0-9A-Fa-f:.]{2,45}|[0-9.]{7,15})\])"
)
# Matched against the 64 characters before "@", reversed: one match, where a search
# for the run ending at "@" would retry from every start position.
_EMAIL_LOCAL_REVERSED = re.compile(rf"[\w{_MARKS}!#$%&'*+/=?^`{{|}}~.-]{{1,64}}")
# RFC 5321 4.1.2 Quoted-string, with RFC 6531's non-ASCII: any character but a bare
# quote, backslash or line break, or a backslash before a printable one.
_QUOTED_LOCAL = re.compile(r'"(?:[^"\\\r\n]|\\[ -~])+"')
_FILE_TLDS = frozenset({"png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "bmp", "tif", "tiff"})


def _quoted_local_start(text: str, at: int) -> int | None:
    """Where the quoted local part ending at ``at`` (``"..."@``) opens, or None.

    The farthest opening quote that makes a whole quoted string wins, so an escaped
    quote inside (``"a\\"b"@``) is not taken for the opening one."""
    for begin in range(max(0, at - 64), at - 1):
        if text[begin] == '"' and _QUOTED_LOCAL.fullmatch(text, begin, at):
            return begin
    return None


def _email(text: str, m: re.Match[str]) -> tuple[int, int] | None:
    at, end = m.span()
    literal = m.group("literal")
    if literal is not None and not _address_literal_ok(literal):
        return None
    if at > 1 and text[at - 1] == '"':
        quoted = _quoted_local_start(text, at)
        if quoted is None or (quoted > 0 and text[quoted - 1] == '"'):
            return None  # '"""@' or '"a""b"@': quotes that do not pair into one string
        start = quoted
    else:
        local = _EMAIL_LOCAL_REVERSED.match(text[max(0, at - 64) : at][::-1])
        if local is None:
            return None
        start = at - local.end()
        while start < at and text[start] in ".'/=":
            start += 1
        if start == at or text[at - 1] == ".":
            return None
    if start > 0 and (text[start - 1].isalnum() or text[start - 1] in "@_"):
        return None
    if literal is not None:
        return start, end
    if text[m.group().rfind(".") + at + 1 : end].lower() in _FILE_TLDS:
        return None
    if end < len(text) - 1 and text[end] == ":" and not text[end + 1].isspace():
        return None  # scp-like "git@github.com:org/repo"
    # RFC 5321 4.5.3.1: an address fits a 256-octet path, so 254 octets without the
    # angle brackets, the domain counted in its punycode (ASCII) form.
    domain = _domain_octets(text[at + 1 : end])
    if domain is None or len(text[start:at].encode()) + 1 + domain > 254:
        return None
    return start, end


def _address_literal_ok(literal: str) -> bool:
    """A well-formed address literal, loopback excepted: a mailbox on the sender's
    own host names no one."""
    try:
        if literal.startswith("IPv6:"):
            address: ipaddress.IPv4Address | ipaddress.IPv6Address
            address = ipaddress.IPv6Address(literal[5:])
        else:
            address = ipaddress.IPv4Address(literal)
    except ValueError:
        return False
    return not address.is_loopback


def _domain_octets(domain: str) -> int | None:
    """Octets of ``domain`` in its ASCII form, or None where an internationalised name
    could not be registered (RFC 5890/5891): compatibility characters (full-width
    letters, "⒈": IDNA 2008 disallows what NFKC changes) or a label over 63 octets
    once punycode-encoded."""
    if domain.isascii():
        return len(domain)
    if unicodedata.normalize("NFKC", domain) != domain:
        return None
    total = -1
    for label in domain.split("."):
        size = len(label) if label.isascii() else 4 + len(label.encode("punycode"))
        if size > 63:
            return None
        total += size + 1
    return total


# --- numbers ----------------------------------------------------------------------------
_SSN_WORDS = ("ssn", "social security", "soc sec")


def _card(text: str, m: re.Match[str]) -> tuple[int, int] | None:
    raw = m.group()
    seps = set(raw).difference(_DIGITS)
    if len(seps) > 1:
        return None
    digits = raw.replace(" ", "").replace("-", "")
    if not (13 <= len(digits) <= 19 and card_prefix_ok(digits) and luhn_ok(digits)):
        return None
    return m.span() if boundary_ok(text, *m.span()) else None


def _ssn(text: str, m: re.Match[str]) -> tuple[int, int] | None:
    raw = m.group()
    digits = raw.replace("-", "").replace(" ", "").replace(".", "")
    if len(digits) != 9 or not ssn_ok(digits) or not boundary_ok(text, *m.span()):
        return None
    if "." in raw:
        # "078.05.1123" (Presidio and scrubadub accept it): dotted, it is also the shape of
        # a version or a section number, so not after such a word
        head = text[max(0, m.start() - 10) : m.start()].lower().rstrip(" :=")
        if head.endswith((*VERSION_WORDS, "section", "§", "no.", "#")):
            return None
    if len(raw) == 9 and not has_keyword_before(text, m.start(), _SSN_WORDS):
        return None  # a bare 9-digit number is an SSN only where the text says so
    if len(raw) == 11 and raw[3] != raw[6]:
        return None  # two different separators: "123-45 6789"
    if len(raw) == 10 and not has_keyword_before(text, m.start(), _SSN_WORDS):
        return None  # one separator ("165.058594", a coordinate) only where named an SSN
    return m.span()


def _iban(text: str, m: re.Match[str]) -> tuple[int, int] | None:
    start = m.start()
    if start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_-/"):
        return None
    raw = m.group()
    want = IBAN_LENGTHS.get(raw[:2])
    if want is None:
        return None
    count = 0
    seps = set()
    for i, ch in enumerate(raw):  # take exactly `want` characters, separators aside
        if ch in _IBAN_SEPARATORS:
            if i > 3:  # after the check digits: one kind of separator throughout
                seps.add(ch)
            continue
        count += 1
        if count == want:
            end = start + i + 1
            break
    else:
        return None
    if len(seps) > 1 or (end < len(text) and text[end].isalnum()):
        return None
    compact = "".join(ch for ch in text[start:end] if ch not in _IBAN_SEPARATORS)
    return (start, end) if iban_ok(compact) else None


_IBAN_SEPARATORS = frozenset(" .-")


_ARMOUR = re.compile(r"-----(?:BEGIN|END) [A-Z0-9 ]+-----")


def _private_key(text: str, m: re.Match[str]) -> tuple[int, int] | None:
    # An armour pair around nothing (a documentation stub, an emptied file) holds no
    # key; a block cut off before its END (a truncated field) is still redacted whole.
    raw = m.group()
    if "-----END" in raw and not _ARMOUR.sub("", raw).strip():
        return None
    return m.span()


def builtin_detectors(
    phone_regions: tuple[str, ...] = ("US", "GB"),
) -> list[RegexDetector | PrefixDetector | RunDetector]:
    """One instance of every built-in detector, in priority order (first wins a tie)."""
    return [
        RegexDetector(
            "private_key",
            re.compile(
                r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
                r"(?:.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|.*\Z)",
                re.DOTALL,
            ),
            _private_key,
            ("-----BEGIN",),
        ),
        RegexDetector("jwt", JWT_PATTERN, jwt_span, JWT_GATES),
        api_key_detector(),
        RegexDetector("email", _EMAIL_DOMAIN, _email, ("@",)),
        RunDetector(
            "iban", re.compile(r"[A-Z]{2} ?[0-9]{2}(?:[ .-]?[A-Z0-9]){11,34}"), _iban, 15, 2
        ),
        RunDetector(
            "credit_card",
            re.compile(
                r"[0-9]{4}(?P<sep>[ -]?)"
                r"(?:[0-9]{4}(?P=sep)[0-9]{4}(?P=sep)[0-9]{1,7}|[0-9]{6}(?P=sep)[0-9]{4,5})"
                r"(?![0-9])"
            ),
            _card,
            13,
        ),
        RunDetector(
            "us_ssn", re.compile(r"[0-9]{3}(?:[-. ]?)[0-9]{2}(?:[-. ]?)[0-9]{4}(?![0-9])"), _ssn, 9
        ),
        RunDetector(
            "phone", re.compile(r"[+(0-9][0-9 ().-]{6,22}[0-9]"), phone_check(phone_regions), 10
        ),
        RegexDetector("ipv6", re.compile(r":[0-9A-Fa-f]{0,4}:"), ipv6_span, ("::", ":")),
        RunDetector(
            "ipv4", re.compile(r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}"), ipv4_span, 7
        ),
    ]


#: Names of the built-in detectors, in priority order.
BUILTIN_DETECTORS: tuple[str, ...] = (
    "private_key",
    "jwt",
    "api_key",
    "email",
    "iban",
    "credit_card",
    "us_ssn",
    "phone",
    "ipv6",
    "ipv4",
)


class _Finder(Protocol):
    @property
    def name(self) -> str: ...

    def find(self, text: str) -> Iterator[tuple[int, int]]: ...


# The shortest IPv6 address ipv6_ok accepts has three characters ("1::"); every other
# built-in needs six or more (an e-mail "a@b.cd").
_SHORTEST = {"ipv6": 3}
_SHORTEST_BUILTIN = 6


def shortest_match(detector: _Finder) -> int:
    """A lower bound of the length of anything ``detector`` finds (1 when unknown).

    Lets the redactor pass over shorter strings without scanning them.
    """
    if isinstance(detector, LiteralDetector):
        return min((len(w) for w in detector.literals if w), default=1 << 30)
    if isinstance(detector, PrefixDetector) and detector.rules is not SECRET_RULES:
        return 1  # a user's rules, even under a built-in name
    if detector.name in BUILTIN_DETECTORS:
        return _SHORTEST.get(detector.name, _SHORTEST_BUILTIN)
    return 1  # a user's pattern may match a single character


F = TypeVar("F", bound=_Finder)

# An IBAN starts with two upper-case letters and two digits; the search skips to digits.
_IBAN_HEAD = re.compile(r"[0-9](?:(?<=[A-Z]{2}[0-9])|(?<=[A-Z]{2} [0-9]))[0-9]")
_SHORT = 128


def builtin_triage(detectors: Sequence[F]) -> Callable[[str], list[F]]:
    """``text`` -> the detectors of ``detectors`` that may find something in it, in no order.

    A built-in detector is left out where a necessary condition of its
    matching fails: an ``in`` test or one regex search that skips ahead on a
    literal or a character class, far cheaper than the detector's own scan.
    Any other detector (extra patterns, the deny list) is always included.
    """
    # The first detector of a built-in name is the built-in one; a user's rule that
    # reports under a built-in name (placeholder "api_key") is another detector.
    by_name: dict[str, F] = {}
    for d in detectors:
        if d.name in BUILTIN_DETECTORS:
            by_name.setdefault(d.name, d)
    builtin_ids = {id(d) for d in by_name.values()}
    always = [d for d in detectors if id(d) not in builtin_ids]
    private_key = by_name.get("private_key")
    jwt = by_name.get("jwt")
    api_key = by_name.get("api_key")
    api_gate = api_key.may_match if isinstance(api_key, PrefixDetector) else None
    email = by_name.get("email")
    iban = by_name.get("iban")
    ipv6 = by_name.get("ipv6")
    ipv6_search = ipv6.pattern.search if isinstance(ipv6, RegexDetector) else None
    # The other run detectors need a run of at least min_len; iban a run of at least
    # its lead right after two upper-case letters (its own test, see RunDetector.find).
    # A run's suffixes are runs too, so long_run matches iff the longest run is long
    # enough for one of them; iban_head is a necessary condition of iban's test.
    by_len = [(d.min_len, d) for d in by_name.values() if isinstance(d, RunDetector) and not d.lead]
    least = min((m for m, _ in by_len), default=1)
    long_run = re.compile(f"{_RUN_START}{_RUN_NEXT}{{{least - 1}}}").search
    has_digit = _has_digit
    iban_head = _IBAN_HEAD.search

    def triage(text: str) -> list[F]:
        out = always.copy()
        if private_key is not None and "-----BEGIN" in text:
            out.append(private_key)
        if jwt is not None and ("eyJ" in text or "ZXlK" in text):
            out.append(jwt)
        if api_gate is not None and api_gate(text):
            out.append(api_key)  # type: ignore[arg-type]
        if email is not None and "@" in text:
            out.append(email)
        # A long text is listed in one pass (the run detectors reuse the list); in a
        # short one, searches that stop early cost less than listing its runs.
        runs = None
        if len(text) >= _SHORT:
            runs = numeric_runs(text)
        elif has_digit(text) is not None and (
            long_run(text) is not None or (iban is not None and iban_head(text) is not None)
        ):
            runs = numeric_runs(text)
        if runs:
            longest = 0
            iban_lead = False  # two upper-case letters right before a run of two or more
            for start, end in runs:
                if end - start > longest:
                    longest = end - start
                if not iban_lead and start >= 2 and end - start >= 2:
                    iban_lead = text[start - 2 : start].isupper() or (
                        start >= 3
                        and text[start - 1] == " "
                        and text[start - 3 : start - 1].isupper()
                    )
            out += [d for m, d in by_len if longest >= m]
            if iban is not None and iban_lead:
                out.append(iban)
        if ipv6_search is not None and ":" in text and ipv6_search(text) is not None:
            out.append(ipv6)  # type: ignore[arg-type]
        return out

    return triage
