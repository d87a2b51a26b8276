"""The secret rules: one sample per rule in its documented format, and the documented
placeholders that must not be reported.

Samples are written from each provider's documented format (prefix, alphabet,
length) with made-up random characters; none is a real credential.
"""

from __future__ import annotations

import random
import string

import pytest

from tracestream.streams import RedactionPolicy, Redactor
from tracestream.streams._secrets import SECRET_RULES, PrefixDetector, Rule
from tracestream.streams._validators import entropy_ok, placeholder

pytestmark = pytest.mark.unit

R = Redactor()


def k(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    """``n`` made-up key characters (seeded, so every run tests the same values)."""
    rng = random.Random(n * 7 + len(alphabet))
    return "".join(rng.choice(alphabet) for _ in range(n))


AZURE = "Ab18Q~" + k(34)
STORAGE = k(86, string.ascii_letters + string.digits + "+/") + "=="
GOOGLE = "AIza" + k(35)
HF = "hf_" + k(34, string.ascii_letters)
SENDGRID = f"SG.{k(22)}.{k(43)}"

# rule name -> (text, the value that must be reported)
SAMPLES: dict[str, tuple[str, str]] = {
    "openai_anthropic": (
        "OPENAI_API_KEY=sk-proj-Qm7Vx2Lp9Rt4Wz8Kb3Nd6Fh1Jc5Gs0Ya",
        "sk-proj-Qm7Vx2Lp9Rt4Wz8Kb3Nd6Fh1Jc5Gs0Ya",
    ),
    "groq": (
        "key gsk_Q7mV2xLp9Rt4Wz8Kb3Nd6Fh1Jc5Gs0YaE2uI4oP8",
        "gsk_Q7mV2xLp9Rt4Wz8Kb3Nd6Fh1Jc5Gs0YaE2uI4oP8",
    ),
    "replicate": (
        "REPLICATE_API_TOKEN r8_Qm7Vx2Lp9Rt4Wz8Kb3Nd6Fh1Jc5Gs0Ya7",
        "r8_Qm7Vx2Lp9Rt4Wz8Kb3Nd6Fh1Jc5Gs0Ya7",
    ),
    "hugging_face": (f"token: {HF}", HF),
    "aws_key_id": ("id ABIAQ7MV2XLP3RT4WZ5K in the log", "ABIAQ7MV2XLP3RT4WZ5K"),
    "google_api_key": (f"maps {GOOGLE} end", GOOGLE),
    "google_oauth_secret": (
        "secret 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",
        "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",
    ),
    "azure_ad_client_secret": (f"client secret {AZURE}", AZURE),
    "azure_storage_key": (
        f"DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={STORAGE};",
        STORAGE,
    ),
    "azure_sas_signature": (
        "https://acme.blob.core.windows.net/c?sv=2022-11-02&sig=Qm7Vx2Lp9Rt4Wz8Kb3Nd6Fh1Jc5Gs0Ya%3D",
        "Qm7Vx2Lp9Rt4Wz8Kb3Nd6Fh1Jc5Gs0Ya%3D",
    ),
    "databricks": (
        "token dapi3f9a1c7e5b2d4f6a8c0e1b3d5f7a9c2e",
        "dapi3f9a1c7e5b2d4f6a8c0e1b3d5f7a9c2e",
    ),
    "github": (
        "ghp_Qm7Vx2Lp9Rt4Wz8Kb3Nd6Fh1Jc5Gs0YaE2uI",
        "ghp_Qm7Vx2Lp9Rt4Wz8Kb3Nd6Fh1Jc5Gs0YaE2uI",
    ),
    "github_fine_grained": (
        "github_pat_11AQ7MV2X0Qm7Vx2Lp9Rt4_Wz8Kb3Nd6Fh1Jc5Gs0YaE2uI4oP8",
        "github_pat_11AQ7MV2X0Qm7Vx2Lp9Rt4_Wz8Kb3Nd6Fh1Jc5Gs0YaE2uI4oP8",
    ),
    "gitlab": ("deploy with gldt-Qm7Vx2Lp9Rt4Wz8Kb3Nd6", "gldt-Qm7Vx2Lp9Rt4Wz8Kb3Nd6"),
    "gitlab_runner_registration": (
        "GR1348941Qm7Vx2Lp9Rt4Wz8Kb3Nd",
        "GR1348941Qm7Vx2Lp9Rt4Wz8Kb3Nd",
    ),
    "npm": ("npm_Qm7Vx2Lp9Rt4Wz8Kb3Nd6Fh1Jc5Gs0YaE2uI", "npm_Qm7Vx2Lp9Rt4Wz8Kb3Nd6Fh1Jc5Gs0YaE2uI"),
    "npm_legacy": (
        "//registry.npmjs.org/:_authToken=5f1c9a2e-7b3d-4e8f-a6c0-2d9b4e1f7a3c",
        "5f1c9a2e-7b3d-4e8f-a6c0-2d9b4e1f7a3c",
    ),
    "pypi": (
        "password = pypi-AgEIcHlwaS5vcmcQm7Vx2Lp9Rt4Wz8Kb3Nd6Fh1Jc5Gs0YaE2uI4oP8Qm7Vx2Lp9Rt4",
        "pypi-AgEIcHlwaS5vcmcQm7Vx2Lp9Rt4Wz8Kb3Nd6Fh1Jc5Gs0YaE2uI4oP8Qm7Vx2Lp9Rt4",
    ),
    "docker_hub": (
        "dckr_pat_Qm7Vx2Lp9Rt4Wz8Kb3Nd6Fh1Jc5G",
        "dckr_pat_Qm7Vx2Lp9Rt4Wz8Kb3Nd6Fh1Jc5G",
    ),
    "atlassian": (
        "ATATT3" + "xQm7Vx2Lp9Rt4Wz8Kb3Nd6Fh1Jc5Gs0Ya" * 5 + "=A1B2C3D4",
        "ATATT3" + "xQm7Vx2Lp9Rt4Wz8Kb3Nd6Fh1Jc5Gs0Ya" * 5 + "=A1B2C3D4",
    ),
    "slack": (
        "SLACK_BOT_TOKEN xoxb-2718281828-3141592653-Qm7Vx2Lp9Rt4Wz8Kb3Nd6Fh1",
        "xoxb-2718281828-3141592653-Qm7Vx2Lp9Rt4Wz8Kb3Nd6Fh1",
    ),
    "slack_app": (
        "xapp-1-A0Q7MV2XLP9-2718281828459-3f9a1c7e5b2d4f6a",
        "xapp-1-A0Q7MV2XLP9-2718281828459-3f9a1c7e5b2d4f6a",
    ),
    "slack_webhook": (
        "post to https://hooks.slack.com/services/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",
        "https://hooks.slack.com/services/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",
    ),
    "stripe": ("sk_live_Qm7Vx2Lp9Rt4Wz8Kb3Nd6Fh1", "sk_live_Qm7Vx2Lp9Rt4Wz8Kb3Nd6Fh1"),
    "stripe_webhook": ("whsec_Qm7Vx2Lp9Rt4Wz8Kb3Nd6Fh1Jc5G", "whsec_Qm7Vx2Lp9Rt4Wz8Kb3Nd6Fh1Jc5G"),
    "twilio": ("api key SK3f9a1c7e5b2d4f6a8c0e1b3d5f7a9c2e", "SK3f9a1c7e5b2d4f6a8c0e1b3d5f7a9c2e"),
    "sendgrid": (f"SENDGRID_KEY {SENDGRID}", SENDGRID),
    "mailgun": (
        "api: key-3f9a1c7e5b2d4f6a8c0e1b3d5f7a9c2e",
        "key-3f9a1c7e5b2d4f6a8c0e1b3d5f7a9c2e",
    ),
    "shopify": ("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", "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"),
    "connection_string_password": (
        "DATABASE_URL=postgresql://app:Vx2Lp9Rt@db.internal:5432/orders",
        "Vx2Lp9Rt",
    ),
    "assigned_password": ('{"db_password": "Summer2024!x"}', "Summer2024!x"),
    "assigned_secret": (
        "MISTRAL_API_KEY=Qm7Vx2Lp9Rt4Wz8Kb3Nd6Fh1Jc5Gs0Ya",
        "Qm7Vx2Lp9Rt4Wz8Kb3Nd6Fh1Jc5Gs0Ya",
    ),
    "bearer": (
        "Authorization: Bearer ya29.Qm7Vx2Lp9Rt4Wz8Kb3Nd6Fh1Jc5",
        "ya29.Qm7Vx2Lp9Rt4Wz8Kb3Nd6Fh1Jc5",
    ),
}

# Documented example values and stand-ins that are not secrets.
PLACEHOLDERS = [
    "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",  # AWS docs' example key id
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",  # and secret
    "SLACK_TOKEN=xoxb-12345-abcd234",
    "xoxe.xoxp-1-RANDOMSTRINGHERE",
    "OPENAI_API_KEY=sk-...HERE",
    "OPENAI_API_KEY=YOUR_OPENAI_API_KEY_HERE",
    "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
    "client_secret=Ab1~8Q~xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "token = ${GITHUB_TOKEN}",
    "api_key: <your-api-key>",
    "password: changeme",
    "postgres://user:password@localhost/db",
    "max_tokens: 4096, prompt_tokens=1234567890",
    "tokenizer: AutoTokenizerFast",
    "secret_name: payments-db-v2",
    "-----BEGIN OPENSSH PRIVATE KEY----------END OPENSSH PRIVATE KEY-----",
    "hf_requiredCharacteristicTypesForDisplayMetadataAndMore",  # a long identifier
    "sk-task-management-dashboard-for-teams",
]


def test_every_rule_has_a_sample_and_a_source() -> None:
    assert set(SAMPLES) == {rule.name for rule in SECRET_RULES}
    for rule in SECRET_RULES:
        assert rule.source, rule.name


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_rule_finds_its_documented_format(name: str) -> None:
    text, value = SAMPLES[name]
    (rule,) = [r for r in SECRET_RULES if r.name == name]
    alone = PrefixDetector("api_key", (rule,))
    assert [text[a:b] for a, b in alone.find(text)] == [value]
    redacted, findings = R.redact_text(text)
    assert value not in redacted, redacted
    assert "api_key" in {f.detector for f in findings}


@pytest.mark.parametrize("text", PLACEHOLDERS)
def test_documented_placeholders_are_not_findings(text: str) -> None:
    assert R.scan(text) == [], text


def test_placeholder_and_entropy_checks() -> None:
    assert placeholder("AKIAIOSFODNN7EXAMPLE") and placeholder("T00000000") and placeholder("pass")
    assert not placeholder("Qm7Vx2Lp9Rt4Wz8Kb3Nd6Fh1")
    assert entropy_ok("Summer2024!x") and entropy_ok("5f1c9a2e-7b3d-4e8f-a6c0-2d9b4e1f7a3c")
    assert not entropy_ok("2026-11-24T07:12:13Z") and not entropy_ok("AutoTokenizerFast")


def test_a_user_rule_is_one_declarative_entry() -> None:
    rule = Rule(
        "acme", r"acme_[A-Za-z0-9]{24}", ("acme_",), validator="random", placeholder="acme_key"
    )
    policy = RedactionPolicy(rules=(rule,))
    text, findings = Redactor(policy).redact_text("use acme_Qm7Vx2Lp9Rt4Wz8Kb3Nd6Fh1 now")
    assert text == "use <ACME_KEY> now"
    assert [f.detector for f in findings] == ["acme_key"]
    # the validator is applied: a non-random value is left alone
    assert Redactor(policy).scan("acme_aaaaaaaaaaaaaaaaaaaaaaaa") == []


def test_a_toml_table_entry_becomes_a_rule() -> None:
    from tracestream._redaction_settings import redaction_policy
    from tracestream._settings import Settings

    settings = Settings(
        redact_extra_patterns={
            "employee_id": "EMP-[0-9]{6}",
            "acme_key": {
                "pattern": "acme_[A-Za-z0-9]{24}",
                "validator": "random",
                "placeholder": "api_key",
                "keywords": ["acme_"],
            },
        }
    )
    redactor = Redactor(redaction_policy(settings))
    text, _ = redactor.redact_text(
        "EMP-123456 acme_Qm7Vx2Lp9Rt4Wz8Kb3Nd6Fh1 acme_aaaaaaaaaaaaaaaaaaaaaaaa"
    )
    assert text == "<EMPLOYEE_ID> <API_KEY> acme_aaaaaaaaaaaaaaaaaaaaaaaa"


def test_the_docs_list_every_rule_with_its_source() -> None:
    from pathlib import Path

    doc = (Path(__file__).parents[3] / "docs" / "redaction.md").read_text(encoding="utf-8")
    for rule in SECRET_RULES:
        assert f"| `{rule.name}` | {rule.source} |" in doc, rule.name
