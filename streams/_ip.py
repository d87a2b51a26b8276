"""IP address candidates confirmed: where an address ends, and which addresses count.

An address that names a host is a finding wherever it stands. The
special-purpose ones (RFC 6890: loopback ``127.0.0.0/8`` and ``::1``, the
broadcast ``255.255.255.255``, ``255.x`` netmasks) name no host of their
own, and a bare ``255.255.255.0`` is a mask more often than an address, so
they are findings only where the text itself calls them addresses: a word
such as ``ip``, ``host`` or ``loopback`` just before them, or a CIDR prefix
length after them (``127.0.0.1/8``). The unspecified address (``0.0.0.0``,
``::``) is the "any" wildcard and never a finding.
"""

from __future__ import annotations

import re

from ._validators import VERSION_WORDS, boundary_ok, has_keyword_before, ipv4_ok, ipv6_ok

__all__ = ["ipv4_span", "ipv6_span"]

# Words that call the next value an IP address (lower case; "address" holds "addr",
# "localhost" holds "host"). Not "netmask" or "subnet": what they name is a mask or a
# network, the very values that keep 255.x and network addresses out.
_ADDRESS_WORDS = (
    "ip", "addr", "host", "loopback", "broadcast", "gateway", "route", "src", "dst",
    "bind", "listen",
)  # fmt: skip
_CIDR4 = re.compile(r"/(?:3[0-2]|[12]?[0-9])(?![0-9])")
_CIDR6 = re.compile(r"/(?:12[0-8]|1[01][0-9]|[1-9]?[0-9])(?![0-9])")
# After an address, "/" and digits are a prefix length ("10.0.0.1/32"), a path
# ("http://10.0.0.5/1234/status") or a mistyped prefix ("10.0.0.0/123"): the address
# ends before them either way.
_SLASH_DIGITS = re.compile(r"/[0-9]+")
# A URL's authority ("http://10.0.0.5") starts after "//", which glues nothing.
_GLUE4_AFTER_SCHEME = frozenset("-_.\\#")
_GLUE4 = _GLUE4_AFTER_SCHEME | {"/"}


def _named(text: str, start: int, end: int, cidr: re.Pattern[str] = _CIDR4) -> bool:
    """True when the text calls ``text[start:end]`` an address: a word before, a CIDR
    prefix length after."""
    return cidr.match(text, end) is not None or has_keyword_before(text, start, _ADDRESS_WORDS)


def ipv4_span(text: str, m: re.Match[str]) -> tuple[int, int] | None:
    """The dotted quad of ``m`` as a finding, or None (a version, part of a longer
    number or path, an invalid or a special-purpose address the text does not name)."""
    start, end = m.span()
    # The boundary is looked for after a "/digits" suffix.
    suffix = _SLASH_DIGITS.match(text, end)
    after = suffix.end() if suffix is not None else end
    glue = _GLUE4_AFTER_SCHEME if text.endswith("//", 0, start) else _GLUE4
    if not boundary_ok(text, start, after, glue):
        return None
    address = m.group()
    if not ipv4_ok(address) and not (ipv4_ok(address, named=True) and _named(text, start, end)):
        return None
    head = text[max(0, start - 10) : start].lower().rstrip(" :=")
    if head.endswith(VERSION_WORDS):
        return None
    return start, end


_HEX_COLON = frozenset("0123456789abcdefABCDEF:")
_HEX_COLON_DOT = _HEX_COLON | {"."}
# RFC 4007 11.2 / RFC 6874: "fe80::1%eth0", "%25" in a URL; the zone is part of the value.
_ZONE = re.compile(r"%[A-Za-z0-9._~-]+")


def ipv6_span(text: str, m: re.Match[str]) -> tuple[int, int] | None:
    """The IPv6 address around the ``:h:`` of ``m`` as a finding, or None."""
    start, end = m.span()
    while start > 0 and text[start - 1] in _HEX_COLON and end - start < 45:
        start -= 1
    while end < len(text) and text[end] in _HEX_COLON_DOT and end - start < 45:
        end += 1
    while end > start and text[end - 1] in ".:" and text[end - 2 : end] != "::":
        end -= 1
    address_end = end
    zone = _ZONE.match(text, end)
    if zone is not None:
        end = zone.end()
    if (start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_:.")) or (
        end < len(text) and (text[end].isalnum() or text[end] == "_")
    ):
        return None
    address = text[start:address_end]
    if ipv6_ok(address) or (ipv6_ok(address, named=True) and _named(text, start, end, _CIDR6)):
        return start, end
    return None
