"""JSON Web Tokens in every compact form a trace may carry, and the same base64-wrapped.

Forms, each from its RFC:

* signed (JWS, RFC 7515 7.1): ``header.payload.signature``; an unsecured JWT
  (RFC 7519 6.1, ``"alg":"none"``) keeps the last dot and an empty signature;
* header and payload without a signature part (a token cut at its last dot,
  or printed by a debugger as its two JSON halves): claimed only when the
  header decodes to a JSON object naming ``alg`` or ``typ``;
* encrypted (JWE, RFC 7516 7.1): five parts, the second empty under direct
  encryption; claimed when the header decodes to JSON naming ``enc``;
* any of these base64-encoded once more (a Kubernetes Secret's ``data``, a
  config blob): it starts ``ZXlK``, base64 of ``eyJ``; claimed when it
  decodes to one of the forms above.

The decoding checks run per candidate only; the signed form needs none, as
before: two ``eyJ`` parts joined by a dot are a JWT by shape alone.
"""

from __future__ import annotations

import base64
import binascii
import json
import re

from ._validators import boundary_ok

__all__ = ["JWT_GATES", "JWT_PATTERN", "jwt_span"]

#: A compact token (header of 11+ characters, then one to four more parts) or a
#: base64-wrapped one. Every JWT header is a JSON object, so it starts ``eyJ``.
JWT_PATTERN = re.compile(
    r"eyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*){1,4}|ZXlK[A-Za-z0-9+/_-]{16,}={0,2}"
)
#: Literals one of which every match holds: the detector skips texts without them.
JWT_GATES = ("eyJ", "ZXlK")


def _json_object(segment: str) -> dict[str, object] | None:
    """The JSON object a base64url segment encodes, or None."""
    try:
        value = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error, RecursionError):  # not base64, UTF-8, or JSON; too deep
        return None
    return value if isinstance(value, dict) else None


def _compact_length(token: str) -> int | None:
    """Length of the JWT at the start of ``token`` (dot-joined base64url parts), or None."""
    parts = token.split(".")
    if len(parts) >= 5 and all(parts[2:5]):
        header = _json_object(parts[0])
        if header is not None and "enc" in header:
            return len(".".join(parts[:5]))
    if len(parts) < 2 or len(parts[1]) < 7 or not parts[1].startswith("eyJ"):
        return None
    if len(parts) >= 3:
        return len(".".join(parts[:3]))
    header = _json_object(parts[0])
    if header is None or not ("alg" in header or "typ" in header):
        return None
    return len(token)


def _wrapped_ok(blob: str) -> bool:
    """True when the base64 ``blob`` decodes to a compact JWT (a cut-off tail allowed)."""
    body = blob.rstrip("=").replace("-", "+").replace("_", "/")
    try:
        decoded = base64.b64decode(body[: len(body) // 4 * 4], validate=True).decode("ascii")
    except (ValueError, binascii.Error):
        return False
    match = JWT_PATTERN.match(decoded)
    return match is not None and _compact_length(match.group()) is not None


def jwt_span(text: str, m: re.Match[str]) -> tuple[int, int] | None:
    """The JWT a :data:`JWT_PATTERN` match holds, as ``(start, end)`` in ``text``, or None."""
    start = m.start()
    token = m.group()
    if token.startswith("ZXlK"):
        if not _wrapped_ok(token):
            return None
        end = m.end()
    else:
        length = _compact_length(token)
        if length is None:
            return None
        end = start + length
    return (start, end) if boundary_ok(text, start, end) else None
