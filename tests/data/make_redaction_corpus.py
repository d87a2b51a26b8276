"""Generate the labelled redaction corpus: ``python tests/data/make_redaction_corpus.py``.

Writes ``redaction_corpus.jsonl`` next to this file: one snippet per line,
``{"text", "spans": [{"detector", "start", "end"}], "kind"}``. Seeded, so the
output is reproducible. Snippets are prompts, tool outputs and log lines; each
carries zero to two sensitive values in one of many formats, and one to three
look-alikes that are NOT sensitive (order numbers, versions, UUIDs, timestamps,
hashes, prices, Luhn-failing card-like numbers, bad-checksum IBANs, ...).
Values are generated independently of the detectors: phone numbers are valid
per phonenumbers (that is what a phone number is), cards pass Luhn, IBANs pass
mod-97, JWTs are real base64url JSON.
"""

from __future__ import annotations

import base64
import json
import random
import re
import string
import uuid
from collections.abc import Callable
from pathlib import Path

import phonenumbers

SEED = 20261124
N_SNIPPETS = 2400
OUT = Path(__file__).with_name("redaction_corpus.jsonl")

rng = random.Random(SEED)
ALNUM = string.ascii_letters + string.digits
FIRST = ["jane", "john", "maria", "wei", "olga", "ahmed", "li", "sam", "priya", "lukas", "ana"]
LAST = ["doe", "smith", "garcia", "chen", "ivanova", "khan", "nguyen", "muller", "rossi", "silva"]
DOMAINS = ["example.com", "acme.io", "mail.example.org", "corp.acme.co.uk", "gmail.com",
           "uni-heidelberg.de", "startup.ai", "outlook.fr", "sub.dept.example.net"]  # fmt: skip


def rs(chars: str, n: int) -> str:
    return "".join(rng.choice(chars) for _ in range(n))


# --- positives --------------------------------------------------------------------------
def email() -> str:
    local = rng.choice([
        f"{rng.choice(FIRST)}.{rng.choice(LAST)}",
        f"{rng.choice(FIRST)}{rng.randint(1, 99)}",
        f"{rng.choice(FIRST)}+{rng.choice(['news', 'test', 'shop'])}",
        f"{rng.choice(FIRST)}_{rng.choice(LAST)}".upper(),
        f"{rng.choice(FIRST)[0]}{rng.choice(LAST)}",
    ])  # fmt: skip
    return f"{local}@{rng.choice(DOMAINS)}"


def phone() -> str:
    region = rng.choice(["US", "US", "US", "GB", "GB", "DE", "FR", "IN", "BR", "AU", "JP", "ES"])
    kind = rng.choice(
        [phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE]
    )
    base = phonenumbers.example_number_for_type(region, kind)
    assert base is not None
    for _ in range(50):
        nsn = str(base.national_number)
        nsn = nsn[:-4] + rs(string.digits, 4)
        num = phonenumbers.parse(f"+{base.country_code}{nsn}", None)
        if phonenumbers.is_valid_number(num):
            break
    fmt = phonenumbers.PhoneNumberFormat
    styles = [fmt.E164, fmt.INTERNATIONAL, fmt.INTERNATIONAL]
    if region in ("US", "GB"):
        styles += [fmt.NATIONAL, fmt.NATIONAL]
    text = phonenumbers.format_number(num, rng.choice(styles))
    if region == "US" and rng.random() < 0.3:
        d = str(num.national_number)
        text = rng.choice([f"{d[:3]}.{d[3:6]}.{d[6:]}", f"{d[:3]}-{d[3:6]}-{d[6:]}",
                           f"+1.{d[:3]}.{d[3:6]}.{d[6:]}", f"1-{d[:3]}-{d[3:6]}-{d[6:]}"])  # fmt: skip
    return text


def luhn_complete(prefix: str, length: int) -> str:
    body = prefix + rs(string.digits, length - len(prefix) - 1)
    for check in string.digits:
        total = 0
        for i, ch in enumerate(reversed(body + check)):
            d = int(ch) * (2 if i % 2 else 1)
            total += d - 9 if d > 9 else d
        if total % 10 == 0:
            return body + check
    raise AssertionError


def card() -> str:
    prefix, length = rng.choice([("4", 16), ("4", 16), ("51", 16), ("55", 16), ("2221", 16),
                                 ("37", 15), ("34", 15), ("6011", 16), ("3530", 16)])  # fmt: skip
    number = luhn_complete(prefix + rs(string.digits, 2), length)
    if length == 15:
        groups = [number[:4], number[4:10], number[10:]]
    else:
        groups = [number[i : i + 4] for i in range(0, 16, 4)]
    return rng.choice([" ", "-", ""]).join(groups)


IBAN_SPEC = {"DE": "8n10n", "GB": "4a6n8n", "FR": "5n5n11c2n", "NL": "4a10n", "ES": "4n4n2n10n",
             "IT": "1a5n5n12c", "CH": "5n12c", "BE": "3n7n2n", "AT": "5n11n", "PL": "8n16n"}  # fmt: skip


def bban(spec: str) -> str:
    out, num = [], ""
    for ch in spec:
        if ch.isdigit():
            num += ch
            continue
        pool = {
            "n": string.digits,
            "a": string.ascii_uppercase,
            "c": string.ascii_uppercase + string.digits,
        }[ch]
        out.append(rs(pool, int(num)))
        num = ""
    return "".join(out)


def iban_with(country: str, body: str) -> str:
    value = int("".join(str(int(c, 36)) for c in body + country + "00"))
    return f"{country}{98 - value % 97:02d}{body}"


def iban() -> str:
    country = rng.choice(list(IBAN_SPEC))
    compact = iban_with(country, bban(IBAN_SPEC[country]))
    if rng.random() < 0.5:
        return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))
    return compact


def ipv4() -> str:
    first = rng.choice([10, 172, 192, 8, 34, 52, 81, 185, 203])
    addr = f"{first}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    return addr


def ipv6() -> str:
    groups = [f"{rng.randint(0, 0xFFFF):x}" for _ in range(8)]
    style = rng.randint(0, 3)
    if style == 0:
        return ":".join(groups)
    if style == 1:
        return "2001:db8:" + ":".join(groups[:2]) + "::" + groups[7]
    if style == 2:
        return "fe80::" + ":".join(groups[4:])
    return ":".join(g.upper() for g in ["2a00", "1450", *groups[2:4]]) + "::" + groups[5]


def ssn() -> str:
    area = rng.choice([n for n in range(1, 900) if n != 666])
    g, s = rng.randint(1, 99), rng.randint(1, 9999)
    return rng.choice(["{:03d}-{:02d}-{:04d}", "{:03d} {:02d} {:04d}"]).format(area, g, s)


def api_key() -> str:
    return rng.choice([
        lambda: "sk-proj-" + rs(ALNUM + "_-", 48),
        lambda: "sk-" + rs(ALNUM, 48),
        lambda: "sk-ant-api03-" + rs(ALNUM + "_-", 93) + "AA",
        lambda: "sk_live_" + rs(ALNUM, 24),
        lambda: "rk_test_" + rs(ALNUM, 24),
        lambda: "ghp_" + rs(ALNUM, 36),
        lambda: "github_pat_" + rs(ALNUM, 22) + "_" + rs(ALNUM, 59),
        lambda: "glpat-" + rs(ALNUM + "_-", 20),
        lambda: "AKIA" + rs(string.ascii_uppercase + string.digits, 16),
        lambda: "AIza" + rs(ALNUM + "_-", 35),
        lambda: "xoxb-" + rs(string.digits, 12) + "-" + rs(string.digits, 13) + "-" + rs(ALNUM, 24),
        lambda: "hf_" + rs(ALNUM, 34),
        lambda: "npm_" + rs(ALNUM, 36),
        lambda: "SG." + rs(ALNUM + "_-", 22) + "." + rs(ALNUM + "_-", 43),
    ])()  # fmt: skip


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt() -> str:
    header = b64url(json.dumps({"alg": rng.choice(["HS256", "RS256"]), "typ": "JWT"}).encode())
    claims = {"sub": str(rng.randint(1, 10**9)), "name": rng.choice(FIRST), "iat": 1764000000}
    return f"{header}.{b64url(json.dumps(claims).encode())}.{b64url(rng.randbytes(32))}"


def private_key() -> str:
    label = rng.choice(["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY"])
    body = "\n".join(rs(ALNUM + "+/", 64) for _ in range(rng.randint(3, 8)))
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----"


POSITIVES: dict[str, Callable[[], str]] = {
    "email": email, "phone": phone, "credit_card": card, "iban": iban, "ipv4": ipv4,
    "ipv6": ipv6, "us_ssn": ssn, "api_key": api_key, "jwt": jwt, "private_key": private_key,
}  # fmt: skip
LEADS = {
    "email": ["email me at ", "Contact: ", "from ", "reply-to <", "user email is "],
    "phone": ["call me at ", "phone: ", "Tel. ", "reach her on ", "mobile "],
    "credit_card": ["card number ", "paid with ", "CC: ", "charge card "],
    "iban": ["IBAN ", "transfer to ", "account: ", "Bank account "],
    "ipv4": ["client ip ", "connect to ", "from host ", "remote_addr="],
    "ipv6": ["client ip ", "connect to [", "from host ", "addr="],
    "us_ssn": ["SSN ", "social security number: ", "ssn=", "my SSN is "],
    "api_key": ["OPENAI_API_KEY=", "token: ", "use key ", "api_key = '", "export KEY="],
    "jwt": ["Authorization: Bearer ", "token=", "the session cookie is ", "jwt: "],
    "private_key": ["key file:\n", "here is the key\n", "id_rsa:\n", ""],
}  # fmt: skip


# --- hard negatives ---------------------------------------------------------------------
def _bad_luhn() -> str:
    number = luhn_complete("4" + rs(string.digits, 3), 16)
    return number[:-1] + str((int(number[-1]) + rng.randint(1, 9)) % 10)


def _bad_iban() -> str:
    good = iban_with("DE", bban("8n10n"))
    return good[:2] + f"{(int(good[2:4]) + rng.randint(1, 50)) % 100:02d}" + good[4:]


NEGATIVES: list[Callable[[], str]] = [
    lambda: f"order #{rng.randint(10**7, 10**10)}",
    lambda: f"ORD-{rng.randint(2020, 2026)}-{rng.randint(100000, 999999)}",
    lambda: f"invoice INV{rng.randint(10**8, 10**9)}",
    lambda: f"v{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 99)}",
    lambda: f"version {rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 99)}",
    lambda: str(uuid.UUID(int=rng.getrandbits(128))),
    lambda: f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.{rng.randint(0, 999999):06d}Z",
    lambda: f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/2026 {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}",
    lambda: "sha256:" + rs("0123456789abcdef", 64),
    lambda: "commit " + rs("0123456789abcdef", 40),
    lambda: "trace_id=" + rs("0123456789abcdef", 32),
    lambda: f"${rng.randint(1, 99999):,}.{rng.randint(0, 99):02d}",
    lambda: f"EUR {rng.randint(1, 9999)},{rng.randint(0, 99):02d}",
    lambda: f"tracking 1Z{rs(string.ascii_uppercase + string.digits, 16)}",
    lambda: f"ISBN 978-{rng.randint(0, 9)}-{rng.randint(100, 999)}-{rng.randint(10000, 99999)}-{rng.randint(0, 9)}",
    lambda: f"lat {rng.uniform(-90, 90):.6f}, lon {rng.uniform(-180, 180):.6f}",
    lambda: f"{rng.randint(1000, 99999)} tokens in {rng.uniform(0.1, 9):.2f}s",
    lambda: "card ending in " + rs(string.digits, 4),
    lambda: "ref " + _bad_luhn(),
    lambda: "acct " + _bad_iban(),
    lambda: f"id {rng.randint(10**8, 10**9 - 1)}",
    lambda: f"{rng.choice(['000', '666', '900'])}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}",
    lambda: f"{rng.randint(256, 999)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}",
    lambda: "127.0.0.1:8080",
    lambda: "0.0.0.0",
    lambda: "netmask 255.255.255.0",
    lambda: f"OID 1.3.6.1.4.1.{rng.randint(1, 60000)}.1",
    lambda: f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}",
    lambda: "std::vector<int>",
    lambda: "MAC " + ":".join(rs("0123456789ABCDEF", 2) for _ in range(6)),
    lambda: "@app.route('/users')",
    lambda: "icon@2x.png",
    lambda: "git@github.com:acme/tracestream.git",
    lambda: "pip install requests@2.31.0",
    lambda: "@" + rng.choice(FIRST) + " mentioned you",
    lambda: "scikit-learn-" + rng.choice(["intelex", "contrib", "extra"]),
    lambda: "task-management-dashboard-for-teams",
    lambda: "risk-assessment-and-mitigation-plan-v2",
    lambda: "-----BEGIN PUBLIC KEY-----\n" + rs(ALNUM + "+/", 64) + "\n-----END PUBLIC KEY-----",
    lambda: "-----BEGIN CERTIFICATE-----\n" + rs(ALNUM + "+/", 64) + "\n-----END CERTIFICATE-----",
    lambda: "data:image/png;base64," + rs(ALNUM + "+/", 40),
    lambda: "eyeglasses.eyebrow.eyelid",
    lambda: f"SKU {rs(string.ascii_uppercase, 2)}{rng.randint(10, 99)}-{rng.randint(1000, 9999)}",
    lambda: f"DE{rng.randint(10, 99)} build {rng.randint(1000, 9999)}",
    lambda: f"port {rng.randint(1024, 65535)}",
    lambda: f"{rng.randint(100, 999)}-{rng.randint(100, 999)}-{rng.randint(100, 999)}",
    lambda: f"+{rng.randint(1, 99)}% YoY",
    lambda: f"{rng.randint(1, 20)} x {rng.randint(100, 999)} = {rng.randint(1000, 9999)}",
    lambda: f"room {rng.randint(100, 999)}, floor {rng.randint(1, 40)}",
    lambda: f"PID {rng.randint(1000, 99999)} exited with code {rng.randint(0, 255)}",
]  # fmt: skip

TEMPLATES = [
    "User: Hi, {0} Can you help me with {1}? Thanks!",
    "System: You are a support agent. Customer note: {0}. Internal ref {1}.",
    '{{"tool": "crm_lookup", "result": {{"note": "{0}", "ref": "{1}"}}}}',
    "Tool output:\n  status: ok\n  value: {0}\n  meta: {1}\n",
    "{ts} INFO api request handled {0} {1} latency_ms=42",
    "{ts} WARN auth failed for {0} (attempt 3), see {1}",
    "Assistant: I found {0} in the document, next to {1}.",
    "Summarise this email thread. > {0} > {1} > Regards",
    "ERROR {1}: could not process record {0}",
    "Please translate: '{0}' and keep {1} unchanged.",
]


def timestamp() -> str:
    return f"2026-11-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z"


def snippet() -> dict[str, object]:
    n_pos = rng.choice([0, 1, 1, 1, 2])
    slots: list[tuple[str | None, str]] = []
    for _ in range(n_pos):
        detector = rng.choice(list(POSITIVES))
        value = POSITIVES[detector]()
        slots.append((detector, f"{rng.choice(LEADS[detector])}\x00{detector}\x01{value}\x00"))
    slots.extend((None, rng.choice(NEGATIVES)()) for _ in range(rng.randint(1, 3)))
    rng.shuffle(slots)
    first = " ".join(s for _, s in slots[: len(slots) // 2 + 1])
    second = " and ".join(s for _, s in slots[len(slots) // 2 + 1 :]) or rng.choice(NEGATIVES)()
    raw = rng.choice(TEMPLATES).replace("{ts}", timestamp()).format(first, second)
    text, spans = "", []
    for k, part in enumerate(raw.split("\x00")):
        if k % 2:  # "detector\x01value": a labelled value
            detector, part = part.split("\x01")
            spans.append({"detector": detector, "start": len(text), "end": len(text) + len(part)})
        text += part
    return {"text": text, "spans": spans, "kind": "generated"}


HAND_IN = Path(__file__).with_name("redaction_hand.txt")
HAND_OUT = Path(__file__).with_name("redaction_hand.jsonl")
_MARK = re.compile(r"\{\{([a-z0-9_]+)\|(.*?)\}\}", re.DOTALL)


def hand_cases() -> list[dict[str, object]]:
    """``redaction_hand.txt`` -> rows; ``{{detector|value}}`` marks a value, ``\\n`` a newline."""
    rows: list[dict[str, object]] = []
    for line in HAND_IN.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        line = line.replace("\\n", "\n")
        text, spans, pos = "", [], 0
        for m in _MARK.finditer(line):
            text += line[pos : m.start()]
            spans.append({"detector": m[1], "start": len(text), "end": len(text) + len(m[2])})
            text += m[2]
            pos = m.end()
        text += line[pos:]
        rows.append({"text": text, "spans": spans, "kind": "hand"})
    return rows


def main() -> None:
    lines = [json.dumps(snippet(), ensure_ascii=False) for _ in range(N_SNIPPETS)]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    hand = [json.dumps(row, ensure_ascii=False) for row in hand_cases()]
    HAND_OUT.write_text("\n".join(hand) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} snippets to {OUT} and {len(hand)} to {HAND_OUT}")


if __name__ == "__main__":
    main()
