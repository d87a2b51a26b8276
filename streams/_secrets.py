"""Secrets: API keys, tokens and passwords, as one declarative table of rules.

A :class:`Rule` is one small entry: a name, the literals that must occur for it
to run (its gate), a regex (group ``value``, if present, is what is reported),
a validator chosen by name from :data:`~._validators.VALIDATORS` and the
placeholder type it reports as (``api_key`` for every built-in rule). Users
add their own entries through settings (``redact_extra_patterns``), in the
same form. Each built-in rule says where its format is documented.

One gate regex over the keywords of every rule decides whether any rule runs;
then a rule runs only where one of its own keywords occurs. Documented example
values (``AKIAIOSFODNN7EXAMPLE``, ``...HERE``, ``xxxx``) are rejected for every
rule by :func:`~._validators.placeholder`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ._validators import VALIDATORS, placeholder

__all__ = ["SECRET_RULES", "PrefixDetector", "Rule", "api_key_detector", "rule_detector"]


@dataclass(frozen=True, slots=True)
class Rule:
    """One secret format: a declarative entry of the detector table.

    Attributes:
        name: the rule's own name (``gitlab_token``); shows in docs and tests.
        pattern: a regex; group ``value``, if present, is the finding, else the match.
        keywords: literals, one of which must occur in the text for the rule to run
            (empty: always runs); case-sensitive unless ``ignore_case``.
        validator: a name in ``VALIDATORS`` (``random``, ``entropy``, ``luhn``, ``none``).
        placeholder: the detector name findings report (``<API_KEY>``).
        source: where the format is documented (provider docs, section).
        ignore_case: the pattern and the keywords ignore case.
    """

    name: str
    pattern: str
    keywords: tuple[str, ...] = ()
    validator: str = "random"
    placeholder: str = "api_key"
    source: str = ""
    ignore_case: bool = False


# Characters a token is made of: a finding must not continue into one of them.
_TOKEN_CHARS = r"A-Za-z0-9_\-"
_END = rf"(?![{_TOKEN_CHARS}])"
# Assignment glue between a keyword-named field and its value, in the forms of
# env files, YAML, JSON, shell, Make, Go, Ruby, PHP and logs: = := :::= ?= => :
_ASSIGN = r"""[A-Za-z0-9_.\-]{0,16}["'`\]]?\s{0,4}(?::{0,3}=|\?=|=>|:)\s{0,4}["'`]?"""
# Values of assignments: printable without quotes, spaces, "$", "{" or "<" (so
# "${TOKEN}", "<your-key>" and "{{ secret }}" are left alone).
_VALUE = r"[A-Za-z0-9_~+/=.:@!#%^&*\-]"

# The table. Order matters only for ties: the first rule listed wins an overlap.
SECRET_RULES: tuple[Rule, ...] = (
    # --- LLM providers
    Rule("openai_anthropic", rf"sk-[A-Za-z0-9_\-]{{20,}}{_END}", ("sk-",),
         source="OpenAI API reference, Authentication: keys start sk- (project keys sk-proj-, "
                "service accounts sk-svcacct-, admin sk-admin-); Anthropic API docs, Getting "
                "started: keys sk-ant-api03-, admin keys sk-ant-admin01-"),
    Rule("groq", rf"gsk_[A-Za-z0-9]{{40,}}{_END}", ("gsk_",),
         source="GroqCloud console, API keys: keys start gsk_"),
    Rule("replicate", rf"r8_[A-Za-z0-9]{{30,}}{_END}", ("r8_",),
         source="Replicate docs, Authentication: API tokens start r8_"),
    Rule("hugging_face", rf"(?:hf_[A-Za-z0-9]{{34}}|api_org_[A-Za-z0-9]{{34}}){_END}",
         ("hf_", "api_org_"),
         source="Hugging Face Hub docs, Security > User access tokens: hf_ and 34 letters; "
                "organization API tokens (deprecated) api_org_"),
    # --- clouds
    Rule("aws_key_id", rf"(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{{16}}{_END}",
         ("AKIA", "ASIA", "ABIA", "ACCA"), validator="none",
         source="AWS IAM User Guide, IAM identifiers > Unique identifiers: prefixes AKIA "
                "(access key), ASIA (temporary key), ABIA (STS bearer token), ACCA "
                "(context-specific credential); base32"),
    Rule("google_api_key", rf"AIza[0-9A-Za-z_\-]{{35}}{_END}", ("AIza",),
         source="Google Cloud docs, Manage API keys: keys start AIza, 39 characters"),
    Rule("google_oauth_secret", rf"GOCSPX-[A-Za-z0-9_\-]{{28}}{_END}", ("GOCSPX-",),
         source="Google Identity docs, OAuth client secrets: new secrets start GOCSPX-"),
    Rule("azure_ad_client_secret",
         r"(?<![A-Za-z0-9_~.\-])[A-Za-z0-9_~.]{3}[0-9]Q~[A-Za-z0-9_~.\-]{31,34}(?![A-Za-z0-9_~.\-])",
         ("Q~",),
         source="Microsoft Entra ID, app registrations > Certificates & secrets: generated client "
                "secrets are 40 characters with 'Q~' at the fifth place (the format Microsoft's "
                "credential scanning keys on; Microsoft does not publish a grammar)"),
    Rule("azure_storage_key",
         r"(?:AccountKey|SharedAccessKey|PrimaryKey|SecondaryKey)\s{0,2}=\s{0,2}"
         r"(?P<value>[A-Za-z0-9+/]{40,88}={0,2})",
         ("AccountKey", "SharedAccessKey", "PrimaryKey", "SecondaryKey"),
         source="Azure Storage docs, Configure a connection string (AccountKey=<base64>); "
                "Service Bus / Event Hubs connection strings (SharedAccessKey=)"),
    Rule("azure_sas_signature", r"[?&;]sig=(?P<value>[A-Za-z0-9%+/]{30,}(?:%3D|=){0,2})",
         ("sig=",),
         source="Azure Storage docs, Grant limited access with SAS: the sig= parameter"),
    Rule("databricks", rf"dapi[0-9a-f]{{32}}(?:-[0-9])?{_END}", ("dapi",),
         source="Databricks docs, Personal access token authentication: tokens start dapi"),
    # --- code hosting and registries
    Rule("github", rf"gh[pousr]_[A-Za-z0-9]{{36,}}{_END}",
         ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
         source="GitHub docs, About authentication > GitHub's token formats: ghp_ (classic PAT), "
                "gho_ (OAuth), ghu_ (user-to-server), ghs_ (server-to-server), ghr_ (refresh)"),
    Rule("github_fine_grained", rf"github_pat_[A-Za-z0-9_]{{40,}}{_END}", ("github_pat_",),
         source="GitHub docs, Managing your personal access tokens: fine-grained github_pat_"),
    Rule("gitlab",
         r"gl(?:pat|oas|dt|rt|rtr|cbt|ptt|ft|imt|agent|soat|ffct|wt)-[A-Za-z0-9_\-]{20,}"
         r"(?:\.[A-Za-z0-9_\-]{2,}){0,2}(?![A-Za-z0-9_\-])",
         ("glpat-", "gloas-", "gldt-", "glrt-", "glrtr-", "glcbt-", "glptt-", "glft-",
          "glimt-", "glagent-", "glsoat-", "glffct-", "glwt-"),
         source="GitLab docs, Security > GitLab token overview > Token prefixes: glpat- "
                "(personal, project, group, impersonation), gloas- (OAuth app secret), gldt- "
                "(deploy), glrt- (runner auth), glcbt- (CI/CD job), glptt- (trigger), glft- "
                "(feed), glimt- (incoming mail), glagent- (Kubernetes agent), glsoat- (SCIM), "
                "glffct- (feature flags client), glwt- (workspace); routable tokens add "
                "'.'-separated parts"),
    Rule("gitlab_runner_registration", rf"GR1348941[A-Za-z0-9_\-]{{20,}}{_END}", ("GR1348941",),
         source="GitLab docs, Token prefixes: runner registration tokens start GR1348941"),
    Rule("npm", rf"npm_[A-Za-z0-9]{{36}}{_END}", ("npm_",),
         source="npm docs, About access tokens: granular and classic tokens start npm_"),
    Rule("npm_legacy", r"_authToken\s{0,2}=\s{0,2}(?P<value>[A-Za-z0-9_.\-]{20,})",
         ("_authToken",),
         source="npm docs, npmrc: //registry/:_authToken=<token>; tokens before 2021 are UUIDs"),
    Rule("pypi", r"pypi-AgE[A-Za-z0-9_\-]{50,}", ("pypi-AgE",),
         source="PyPI help, How can I use API tokens: tokens start pypi- and are macaroons "
                "(base64 'AgE' + the location, e.g. AgEIcHlwaS5vcmc = pypi.org)"),
    Rule("docker_hub", rf"dckr_(?:pat|oat)_[A-Za-z0-9_\-]{{27,}}{_END}",
         ("dckr_pat_", "dckr_oat_"),
         source="Docker docs, Personal access tokens (dckr_pat_) and organization access tokens "
                "(dckr_oat_)"),
    Rule("atlassian", rf"ATATT3[A-Za-z0-9_\-=]{{150,}}{_END}", ("ATATT3",),
         source="Atlassian support, Manage API tokens for your Atlassian account: tokens "
                "created since 2023 start ATATT3"),
    # --- messaging, payments, e-mail
    Rule("slack", rf"xox[abeoprs]-[0-9A-Za-z\-]{{18,}}[0-9A-Za-z]{_END}",
         ("xoxa-", "xoxb-", "xoxe-", "xoxo-", "xoxp-", "xoxr-", "xoxs-"),
         source="Slack API docs, Tokens > Token types: xoxb- (bot), xoxp- (user), xoxe.xoxp- "
                "(configuration), xoxe- (refresh), xoxa-/xoxr-/xoxo-/xoxs- (legacy workspace "
                "and legacy); real tokens carry team and user ids, 24+ characters"),
    Rule("slack_app", rf"xapp-[0-9]-[A-Za-z0-9\-]{{20,}}{_END}", ("xapp-",),
         source="Slack API docs, Token types > App-level tokens: xapp-"),
    Rule("slack_webhook",
         r"https://hooks\.slack(?:-gov)?\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_\-]{20,}",
         ("hooks.slack",), validator="none",
         source="Slack API docs, Sending messages using incoming webhooks "
                "(hooks.slack.com/services/T.../B.../...) and Workflow Builder webhook triggers"),
    Rule("stripe", rf"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{{16,}}{_END}", ("sk_", "rk_"),
         source="Stripe docs, API keys: secret keys sk_live_/sk_test_, restricted rk_live_/rk_test_"),
    Rule("stripe_webhook", rf"whsec_[A-Za-z0-9]{{24,}}{_END}", ("whsec_",),
         source="Stripe docs, Webhooks > Verify events: signing secrets start whsec_"),
    Rule("twilio", rf"SK[0-9a-fA-F]{{32}}{_END}", ("SK",),
         source="Twilio docs, API keys: the API key SID starts SK, 34 characters"),
    Rule("sendgrid", rf"SG\.[A-Za-z0-9_\-]{{22}}\.[A-Za-z0-9_\-]{{43}}{_END}", ("SG.",),
         source="Twilio SendGrid docs, API keys: SG.<22>.<43>"),
    Rule("mailgun", rf"key-[0-9a-f]{{32}}{_END}", ("key-",),
         source="Mailgun docs, API keys: private API keys key-<32 hex>"),
    Rule("shopify", rf"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{{32}}{_END}",
         ("shpat_", "shpca_", "shppa_", "shpss_"),
         source="Shopify dev docs, access tokens: shpat_ (admin API), shpca_ (custom app), "
                "shppa_ (private app), shpss_ (shared secret)"),
    # --- generic forms
    Rule("connection_string_password",
         r"[A-Za-z][A-Za-z0-9+.\-]{1,20}://[^\s:/@\"'<>]{1,64}:(?P<value>[^\s/@\"'<>]{3,128})@"
         r"[A-Za-z0-9\[]",
         ("://",), validator="none",
         source="RFC 3986 3.2.1 userinfo; PostgreSQL libpq connection URIs, MySQL, MongoDB "
                "(mongodb+srv://), Redis and AMQP URIs: scheme://user:password@host"),
    Rule("assigned_password",
         rf"(?:pass(?:w(?:or)?d|phrase)|pwd)(?P<glue>{_ASSIGN})(?P<value>{_VALUE}{{8,200}})"
         rf"(?![A-Za-z0-9_\-])",
         ("pass", "pwd"), validator="entropy", ignore_case=True,
         source="generic: a value assigned to a field named password/passphrase (env files, "
                "YAML, JSON, connection strings, code), kept when it looks chosen as a secret"),
    Rule("assigned_secret",
         rf"(?:secret|token|(?:(?<=api)|(?<=api_)|(?<=api-)|(?<=access)|(?<=access_)"
         rf"|(?<=access-)|(?<=auth)|(?<=auth_)|(?<=auth-))key|credential)"
         rf"(?P<glue>{_ASSIGN})(?P<value>{_VALUE}{{20,200}})(?![A-Za-z0-9_\-])",
         ("secret", "token", "key", "credential"),
         validator="entropy", ignore_case=True,
         source="generic: a value of 20+ characters assigned to a field named secret, token, "
                "api key, access key or credential, kept when random enough (entropy check). "
                "Also finds Cohere keys (40 characters, no prefix, CO_API_KEY in Cohere's SDK "
                "docs) and Mistral keys (32, no prefix, MISTRAL_API_KEY in Mistral's docs), "
                "which have no format of their own to look for"),
    Rule("bearer",
         r"bearer (?P<value>[A-Za-z0-9_~+/\-][A-Za-z0-9._~+/\-]{18,}[A-Za-z0-9_~+/=\-])",
         ("bearer ",), ignore_case=True,
         source="RFC 6750 2.1: Authorization: Bearer <token>"),
)  # fmt: skip


def _span(text: str, m: re.Match[str]) -> tuple[int, int] | None:
    """The finding of a match: group ``value`` or the whole match, not glued to a token."""
    if "value" in m.re.groupindex:
        start, end = m.span("value")
        if text.startswith("eyJ", start):
            return None  # a bearer or assigned JWT: the jwt detector reports it
    else:
        start, end = m.span()
        if start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_-"):
            return None
    return start, end


@dataclass(frozen=True, slots=True)
class _Compiled:
    rule: Rule
    pattern: re.Pattern[str]
    valid: Callable[[str], bool]
    keywords: tuple[str, ...]  # lower-cased for ignore_case rules
    folded: re.Pattern[str] | None  # the keywords, any case: offsets when lower() shifts them


@dataclass(frozen=True, slots=True)
class PrefixDetector:
    """Rules of one placeholder type under one name; each runs only where a keyword occurs.

    A case-sensitive rule runs its regex over the text when one of its keywords
    occurs. An ``ignore_case`` rule is matched only at each occurrence of one of
    its keywords (found in the lower-cased text), so its pattern must start with
    that keyword: a field name such as ``password`` or ``token`` occurs often, and
    trying the pattern only there costs a few comparisons instead of a scan.
    """

    name: str
    rules: tuple[Rule, ...]
    gate: re.Pattern[str] | None = field(init=False)
    _tags: dict[str, tuple[int, ...]] = field(init=False)
    _plain: tuple[tuple[str, tuple[int, ...]], ...] = field(init=False)
    _folded: tuple[tuple[str, tuple[int, ...]], ...] = field(init=False)
    _always: tuple[int, ...] = field(init=False)
    _compiled: tuple[_Compiled, ...] = field(init=False)

    def __post_init__(self) -> None:
        compiled: list[_Compiled] = []
        folded: dict[str, list[int]] = {}
        for i, rule in enumerate(self.rules):
            flags = re.IGNORECASE if rule.ignore_case else 0
            keywords = (
                tuple(k.lower() for k in rule.keywords) if rule.ignore_case else rule.keywords
            )
            any_case = None
            if rule.ignore_case and keywords:
                any_case = re.compile("|".join(re.escape(k) for k in keywords), re.IGNORECASE)
                for k in keywords:
                    folded.setdefault(k, []).append(i)
            pattern = re.compile(rule.pattern, flags)
            compiled.append(
                _Compiled(rule, pattern, VALIDATORS[rule.validator], keywords, any_case)
            )
        gate, tags, plain = _gate(self.rules)
        object.__setattr__(self, "_compiled", tuple(compiled))
        object.__setattr__(self, "gate", gate)
        object.__setattr__(self, "_tags", tags)
        object.__setattr__(self, "_plain", plain)
        object.__setattr__(self, "_folded", tuple((k, tuple(v)) for k, v in folded.items()))
        object.__setattr__(
            self, "_always", tuple(i for i, r in enumerate(self.rules) if not r.keywords)
        )

    def may_match(self, text: str) -> bool:
        """False only where no rule can match: none of the keywords occurs."""
        if self._always or (self.gate is not None and self.gate.search(text) is not None):
            return True
        for keyword, _ in self._plain:
            if keyword in text:
                return True
        if self._folded:
            low = text.lower()
            for keyword, _ in self._folded:
                if keyword in low:
                    return True
        return False

    def _active(self, text: str, low: str) -> list[int]:
        """Indices of the rules one of whose keywords occurs in ``text``, in table order."""
        active = set(self._always)
        if self.gate is not None:
            tags = self._tags
            for m in self.gate.finditer(text):
                active.update(tags[m.lastgroup])  # type: ignore[index]
        for keyword, rules in self._plain:
            if keyword in text:
                active.update(rules)
        for keyword, rules in self._folded:
            if keyword in low:
                active.update(rules)
        return sorted(active)

    def find(self, text: str) -> Iterator[tuple[int, int]]:
        low = text.lower() if self._folded else text
        for i in self._active(text, low):
            c = self._compiled[i]
            matches = (
                _at_keywords(c, text, low) if c.folded is not None else c.pattern.finditer(text)
            )
            valid = c.valid
            for match in matches:
                span = _span(text, match)
                if span is None:
                    continue
                value = text[span[0] : span[1]]
                if not placeholder(value) and valid(value):
                    yield span


def _at_keywords(c: _Compiled, text: str, low: str) -> Iterator[re.Match[str]]:
    """Matches of ``c``'s pattern starting where one of its keywords occurs, any case."""
    if len(low) == len(text):
        starts: set[int] = set()
        for keyword in c.keywords:
            at = low.find(keyword)
            while at >= 0:
                starts.add(at)
                at = low.find(keyword, at + 1)
    else:  # lower-casing changed lengths (a few non-ASCII letters): find them in the text
        assert c.folded is not None
        starts = {m.start() for m in c.folded.finditer(text)}
    match = c.pattern.match
    last_end = -1
    for at in sorted(starts):
        if at < last_end:
            continue
        m = match(text, at)
        if m is not None:
            last_end = m.end()
            yield m


def _gate(
    rules: tuple[Rule, ...],
) -> tuple[
    re.Pattern[str] | None, dict[str, tuple[int, ...]], tuple[tuple[str, tuple[int, ...]], ...]
]:
    """A regex matching wherever a case-sensitive keyword of ``rules`` occurs, which
    names the rules by the group it matched; and the keywords left to ``in`` tests.

    One pass for most keywords beats one ``in`` per keyword, if the search skips
    quickly over ordinary text: a keyword with "-", "_", "~" or "=" is looked for
    from that character back (a lookbehind), and one starting with an upper-case
    letter or ":" by its first character. A keyword of lower-case letters only
    would stop the search at every such letter of prose, so an ``in`` test (a
    fast substring search) takes it instead.
    """
    by_keyword: dict[str, list[int]] = {}
    for i, rule in enumerate(rules):
        if not rule.ignore_case:
            for keyword in rule.keywords:
                by_keyword.setdefault(keyword, []).append(i)
    heads: dict[str, list[str]] = {}
    alternatives: list[str] = []
    plain: list[tuple[str, tuple[int, ...]]] = []
    tags: dict[str, tuple[int, ...]] = {}
    for n, (keyword, indices) in enumerate(by_keyword.items()):
        tag = f"k{n}"
        tags[tag] = tuple(indices)
        cut = next((i for i, ch in enumerate(keyword) if ch in "-_~="), -1)
        if cut > 0:
            head = f"(?<={re.escape(keyword[: cut + 1])})"
            if len(keyword) > cut + 1:
                head += f"(?={re.escape(keyword[cut + 1 :])})"
            heads.setdefault(keyword[cut], []).append(f"{head}(?P<{tag}>)")
        elif keyword[0].isupper() or keyword[0] in ":_":
            alternatives.append(f"{re.escape(keyword)}(?P<{tag}>)")
        else:
            plain.append((keyword, tuple(indices)))
    for ch, words in heads.items():
        alternatives.insert(0, f"{re.escape(ch)}(?:{'|'.join(words)})")
    gate = re.compile("|".join(alternatives)) if alternatives else None
    return gate, tags, tuple(plain)


def rule_detector(name: str, rules: tuple[Rule, ...]) -> PrefixDetector:
    """A detector reporting as ``name`` that runs ``rules``."""
    return PrefixDetector(name, rules)


def api_key_detector() -> PrefixDetector:
    return PrefixDetector("api_key", SECRET_RULES)
