"""IP address forms (issue 15 item 3): special-purpose addresses the text names as
addresses, addresses in URLs and before a path, IPv6 zone ids; and the bare special
values that stay (RFC 6890 registries, RFC 4007 zones, RFC 4632 CIDR notation)."""

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
        ("listening on localhost 127.0.0.1", "127.0.0.1"),
        ("bind address: 127.0.1.1", "127.0.1.1"),
        ("broadcast 255.255.255.255 reached", "255.255.255.255"),
        ("allow 127.0.0.0/8 only", "127.0.0.0"),  # CIDR: the text writes an address
        ("route 255.255.255.0/32", "255.255.255.0"),
    ],
)
def test_special_ipv4_named_as_an_address(text: str, value: str) -> None:
    assert found(text) == [("ipv4", value)]


@pytest.mark.parametrize(
    "text",
    [
        "127.0.0.1",  # bare: loopback names no host
        "mask 0xffffff00 is 255.255.255.0 in the table",  # a digit between word and value
        "255.255.255.0",
        "netmask 255.255.240.0",  # a mask, named as one
        "bind 0.0.0.0:8080",  # the unspecified address is the wildcard, named or not
        "default route 0.0.0.0/0",
        "release 127.0.0.1 tag",  # a version word wins
    ],
)
def test_special_ipv4_not_claimed(text: str) -> None:
    assert found(text) == []


def test_ipv4_in_a_url_and_before_a_path() -> None:
    assert found("GET http://10.20.30.40/1234/status") == [("ipv4", "10.20.30.40")]
    assert found("prefix 172.16.5.4/123 is out of range") == [("ipv4", "172.16.5.4")]
    assert found("mirror/downloads/4.19.2.1/x") == []  # a path segment, not after '//'


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("my ip: ::1", "::1"),
        ("src=fe80::9 dst=::1", "::1"),
        ("loopback ::1 is up", "::1"),
        ("::1/128", "::1"),
    ],
)
def test_ipv6_loopback_named_as_an_address(text: str, value: str) -> None:
    assert ("ipv6", value) in found(text)


@pytest.mark.parametrize("text", ["::1", "ip ::", "::/0", "0000::", "std::cout", "ratio 1:2:3"])
def test_ipv6_bare_loopback_and_unspecified_not_claimed(text: str) -> None:
    assert found(text) == []


def test_ipv6_zone_id_is_part_of_the_address() -> None:
    assert found("ping fe80::1ff:fe23:4567:890a%eth0 ok") == [
        ("ipv6", "fe80::1ff:fe23:4567:890a%eth0")
    ]
    assert found("http://[fe80::a%25en0]:8080/") == [("ipv6", "fe80::a%25en0")]
