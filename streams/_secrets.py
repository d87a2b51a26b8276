"""Secrets: API keys and tokens of common providers, found by their literal prefixes.

One gate regex over all prefixes decides whether any per-provider pattern runs;
a randomness check (several character classes, many distinct characters)
keeps words such as ``task-management-dashboard`` from passing as ``sk-`` keys.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

__all__ = ["PrefixDetector", "api_key_detector"]

Check = Callable[[str, "re.Match[str]"], "tuple[int, int] | None"]


# --- API keys and tokens of common providers ----------------------------------------------------------------------------
def _api_key(text: str, m: re.Match[str]) -> tuple[int, int] | None:
    if "value" in m.re.groupindex:
        start, end = m.span("value")
        if text.startswith("eyJ", start):
            return None  # a bearer JWT: the jwt detector reports it
    else:
        start, end = m.span()
        if start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_-"):
            return None
    tail = text[start + 4 : end]
    classes = (
        any(c.isdigit() for c in tail)
        + any(c.isupper() for c in tail)
        + any(c.islower() for c in tail)
    )
    # real keys are random: several character classes, many distinct characters
    if (classes < 2 and not text.startswith(("AKIA", "ASIA"), start)) or len(set(tail)) < 10:
        return None
    return start, end


_API_KEY_ALTERNATIVES = (
    ("sk-", r"sk-[A-Za-z0-9_-]{20,}"),  # OpenAI, Anthropic (sk-ant-...), DeepSeek
    ("sk_", r"sk_(?:live|test)_[A-Za-z0-9]{16,}"),  # Stripe secret
    ("rk_", r"rk_(?:live|test)_[A-Za-z0-9]{16,}"),  # Stripe restricted
    ("ghp_", r"ghp_[A-Za-z0-9]{36,}"),  # GitHub tokens
    ("gho_", r"gho_[A-Za-z0-9]{36,}"),
    ("ghu_", r"ghu_[A-Za-z0-9]{36,}"),
    ("ghs_", r"ghs_[A-Za-z0-9]{36,}"),
    ("ghr_", r"ghr_[A-Za-z0-9]{36,}"),
    ("github_pat_", r"github_pat_[A-Za-z0-9_]{40,}"),
    ("glpat-", r"glpat-[A-Za-z0-9_-]{20,}"),  # GitLab
    ("AKIA", r"AKIA[0-9A-Z]{16}"),  # AWS access key ids
    ("ASIA", r"ASIA[0-9A-Z]{16}"),
    ("AIza", r"AIza[0-9A-Za-z_-]{35}"),  # Google
    ("xox", r"xox[abeoprs]-[0-9A-Za-z-]{10,}"),  # Slack
    ("hooks.slack.com", r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]{20,}"),
    ("hf_", r"hf_[A-Za-z0-9]{30,}"),  # Hugging Face
    ("npm_", r"npm_[A-Za-z0-9]{36}"),
    ("SG.", r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}"),  # SendGrid
    ("gsk_", r"gsk_[A-Za-z0-9]{40,}"),  # Groq
    ("r8_", r"r8_[A-Za-z0-9]{30,}"),  # Replicate
    ("Bearer ", r"Bearer (?P<value>[A-Za-z0-9_~+/-][A-Za-z0-9._~+/-]{18,}[A-Za-z0-9_~+/=-])"),
)


@dataclass(frozen=True, slots=True)
class PrefixDetector:
    """Several literal-prefixed patterns under one name; each runs only if its prefix occurs."""

    name: str
    patterns: tuple[tuple[str, re.Pattern[str]], ...]
    check: Check
    gate: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        # One pass over the text for all prefixes beats one `in` per prefix. A prefix
        # with "-" or "_" is looked for from that character back (a lookbehind), so the
        # search skips ahead to the few characters that start an alternative instead of
        # stopping at every "s", "r", "g" or "h" of ordinary words.
        heads: dict[str, list[str]] = {}
        alternatives: list[str] = []
        for prefix, _ in self.patterns:
            cut = next((i for i, ch in enumerate(prefix) if ch in "-_"), -1)
            if cut > 0:
                heads.setdefault(prefix[cut], []).append(prefix[: cut + 1])
            else:
                alternatives.append(re.escape(prefix))
        for ch, words in heads.items():
            behind = "|".join(f"(?<={re.escape(w)})" for w in dict.fromkeys(words))
            alternatives.insert(0, f"{re.escape(ch)}(?:{behind})")
        object.__setattr__(self, "gate", re.compile("|".join(alternatives)))

    def find(self, text: str) -> Iterator[tuple[int, int]]:
        if self.gate.search(text) is None:
            return
        check = self.check
        for prefix, pattern in self.patterns:
            if prefix in text:
                for match in pattern.finditer(text):
                    span = check(text, match)
                    if span is not None:
                        yield span


def api_key_detector() -> PrefixDetector:
    patterns = tuple((gate, re.compile(p)) for gate, p in _API_KEY_ALTERNATIVES)
    return PrefixDetector("api_key", patterns, _api_key)
