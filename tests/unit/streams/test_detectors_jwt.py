"""JWT forms beyond the signed compact one (issue 15 item 3): no signature part, JWE,
base64-wrapped; and the JWT-shaped strings that must not fire.

Tokens are built here from JSON headers and payloads per RFC 7515/7516/7519,
with random bytes standing in for signatures, keys and ciphertexts.
"""

from __future__ import annotations

import base64
import json

import pytest

from tracestream.streams import Redactor

pytestmark = pytest.mark.unit

R = Redactor()


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def part(obj: dict[str, object]) -> str:
    return b64url(json.dumps(obj).encode())


HEADER = part({"alg": "ES256", "typ": "JWT", "kid": "k-2026-07"})
PAYLOAD = part({"sub": "user-8812", "email": "ana@example.org", "exp": 1893456000})
SIGNATURE = b64url(bytes(range(7, 71)))
JWS = f"{HEADER}.{PAYLOAD}.{SIGNATURE}"


def found(text: str) -> list[tuple[str, str]]:
    return [(f.detector, text[f.start : f.end]) for f in R.scan(text)]


def test_signed_and_unsecured_forms() -> None:
    assert found(f"auth={JWS};") == [("jwt", JWS)]
    unsecured = f"{part({'alg': 'none'})}.{PAYLOAD}."  # RFC 7519 6.1: empty signature
    assert found(f"token {unsecured} accepted") == [("jwt", unsecured)]
    assert found(f"see {JWS}. Next") == [("jwt", JWS)]  # a full stop is not a part


def test_header_and_payload_without_a_signature() -> None:
    halves = f"{HEADER}.{PAYLOAD}"
    assert found(f'decoded="{halves}" by the debugger') == [("jwt", halves)]
    # RFC 7515 allows whitespace and CRLF inside the header JSON
    spaced = b64url(b'{"typ":"JWT",\r\n "alg":"HS256"}') + "." + PAYLOAD
    assert found(spaced) == [("jwt", spaced)]


def test_header_and_payload_look_alikes_do_not_fire() -> None:
    # JSON objects without alg or typ: two base64url JSON values, not a token
    not_a_header = part({"page": 2, "size": 50}) + "." + part({"cursor": "abcdefgh"})
    assert found(f"cursor {not_a_header}") == []
    # 'eyJ' followed by bytes that are not JSON
    assert found("eyJ0aGlzIGlzIG5vdA.eyJzb21ldGhpbmcgZWxzZQ") == []


def test_encrypted_jwe_compact_form() -> None:
    header = part({"alg": "RSA-OAEP", "enc": "A256GCM"})
    key, iv = b64url(bytes(range(256))), b64url(bytes(range(12)))
    ciphertext, tag = b64url(b"\x9c" * 5 + bytes(range(90))), b64url(bytes(range(16, 32)))
    jwe = f"{header}.{key}.{iv}.{ciphertext}.{tag}"
    assert found(f"id_token={jwe}&state=x") == [("jwt", jwe)]
    direct = f"{part({'alg': 'dir', 'enc': 'A128CBC-HS256'})}..{iv}.{ciphertext}.{tag}"
    assert found(f"cookie {direct}") == [("jwt", direct)]  # RFC 7516 direct: empty key


def test_five_parts_without_enc_are_not_a_jwe() -> None:
    fake = f"{part({'kind': 'chunk'})}.{b64url(b'abc' * 9)}.aaaa.bbbb.cccc"
    assert found(fake) == []


def test_base64_wrapped_token() -> None:
    wrapped = base64.b64encode(JWS.encode()).decode()
    assert wrapped.startswith("ZXlK")
    assert found(f"  token: {wrapped}\n") == [("jwt", wrapped)]
    # a Secret manifest's value may be cut where a log line ends
    assert found(f'"token": "{wrapped[:120]}"') == [("jwt", wrapped[:120])]


def test_base64_that_is_not_a_wrapped_token_does_not_fire() -> None:
    prose = base64.b64encode(b"eyJust a sentence that happens to start this way").decode()
    assert prose.startswith("ZXlK")
    assert found(f"blob {prose}") == []
    inner = base64.b64encode(f"{part({'page': 1})}.{part({'n': 2})}".encode()).decode()
    assert found(inner) == []  # wraps two JSON halves that are not a JWT header + payload


def test_hostile_headers_do_not_raise() -> None:
    deep = b64url(b'{"alg":' + b"[" * 100_000)  # json.loads would recurse past the limit
    assert found(f"{deep}.{PAYLOAD}") == []
    assert found("eyJ" + "A" * 9 + "." + "eyJ" + "B" * 5) == []  # length 1 mod 4: no base64
    wrapped = base64.b64encode(f"{deep}.{PAYLOAD}".encode()).decode()
    assert found(wrapped) == []
