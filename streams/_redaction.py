"""PII redaction: the policy, the redactor, and how it walks events.

Pure and synchronous: no Kafka, no Faust, no I/O. One :class:`Redactor` is
built per worker from a :class:`RedactionPolicy` (the edge builds the policy
from settings, see ``tracestream._redaction_settings``) and is safe to share
between threads. Nothing it returns or raises contains a redacted value.

Modes, per detector:

- ``mask``: the value becomes a typed placeholder, ``<EMAIL>``;
- ``hash``: ``<EMAIL:9f86d081884c7d65>``, a keyed HMAC-SHA256 (first 64 bits)
  of the normalised value, so equal values stay joinable but unreadable;
- ``drop``: the whole string that contained the value is removed (JSON
  ``null``; ``""`` where the contract needs a string, and from ``redact_text``).
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from pydantic import JsonValue

from tracestream.schemas import Redaction, ScoreEvent, SpanEndEvent, SpanEvent, SpanStartEvent

from ._detector import Detector, Finding
from ._detectors import (
    BUILTIN_DETECTORS,
    LiteralDetector,
    PrefixDetector,
    RegexDetector,
    builtin_detectors,
)

__all__ = ["Mode", "RedactionConfigError", "RedactionPolicy", "Redactor"]

Mode = Literal["mask", "hash", "drop"]
_MODES: frozenset[str] = frozenset(("mask", "hash", "drop"))
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_DIGITY = frozenset(("credit_card", "us_ssn", "phone", "iban"))
_PATH_MAX = 256
AnyEvent = TypeVar("AnyEvent", SpanStartEvent, SpanEndEvent, SpanEvent, ScoreEvent)


class RedactionConfigError(ValueError):
    """The redaction policy is unusable (unknown detector or mode, bad regex, hash without key)."""


@dataclass(frozen=True, slots=True)
class RedactionPolicy:
    """What to detect and what to do with it. Validated on construction.

    Attributes:
        modes: mode per detector name; detectors not listed use ``default_mode``.
        default_mode: ``mask``, ``hash`` or ``drop``.
        hmac_key: key of ``hash`` mode; required (non-empty) when any detector hashes.
        detectors: enabled built-in detectors (default: all, see ``BUILTIN_DETECTORS``).
        extra_patterns: name -> regex; each becomes a detector of that name.
        deny_list: literals redacted as detector ``deny_list`` (whole word, any case).
        attribute_keys: span attribute keys to redact (``fnmatch`` globs; ``*`` = all).
        phone_regions: regions whose national phone formats are recognised.

    Raises:
        RedactionConfigError: on construction, naming the bad part and the fix.
    """

    modes: Mapping[str, Mode] = field(default_factory=dict)
    default_mode: Mode = "mask"
    hmac_key: bytes = b""
    detectors: tuple[str, ...] = BUILTIN_DETECTORS
    extra_patterns: Mapping[str, str] = field(default_factory=dict)
    deny_list: tuple[str, ...] = ()
    attribute_keys: tuple[str, ...] = ("*",)
    phone_regions: tuple[str, ...] = ("US", "GB")

    def __post_init__(self) -> None:
        unknown = set(self.detectors) - set(BUILTIN_DETECTORS)
        if unknown:
            raise RedactionConfigError(
                f"unknown detectors {sorted(unknown)}; known: {', '.join(BUILTIN_DETECTORS)}"
            )
        for name, pattern in self.extra_patterns.items():
            if not _NAME.match(name) or name in BUILTIN_DETECTORS or name == "deny_list":
                raise RedactionConfigError(
                    f"extra pattern name {name!r} must match {_NAME.pattern} and not be a "
                    "built-in detector name"
                )
            try:
                re.compile(pattern)
            except re.error as exc:
                raise RedactionConfigError(
                    f"extra pattern {name!r} is not a regex: {exc}"
                ) from None
        for name, mode in {**self.modes, "*": self.default_mode}.items():
            if mode not in _MODES:
                raise RedactionConfigError(f"mode {mode!r} for {name!r}: use mask, hash or drop")
        if not self.hmac_key and "hash" in (self.default_mode, *self.modes.values()):
            raise RedactionConfigError(
                "hash mode needs an HMAC key and none is set. Fix: set "
                "TRACESTREAM_REDACT_HMAC_KEY or TRACESTREAM_REDACT_HMAC_KEY_FILE, "
                "or use mask mode"
            )

    def mode_for(self, detector: str) -> Mode:
        """The mode applied to values found by ``detector``."""
        return self.modes.get(detector, self.default_mode)


class Redactor:
    """Finds and replaces sensitive values in strings, JSON values and events.

    Every method is pure, never blocks and never raises on any string or JSON
    value; it may be shared between threads.
    """

    def __init__(self, policy: RedactionPolicy | None = None) -> None:
        self.policy = policy = policy or RedactionPolicy()
        enabled = set(policy.detectors)
        detectors: list[Detector] = [
            d for d in builtin_detectors(policy.phone_regions) if d.name in enabled
        ]
        detectors += [
            RegexDetector(name, re.compile(pattern))
            for name, pattern in policy.extra_patterns.items()
        ]
        if policy.deny_list:
            detectors.append(LiteralDetector("deny_list", policy.deny_list))
        self._detectors = tuple(detectors)
        self._priority = {d.name: i for i, d in enumerate(detectors)}
        self._modes = {d.name: policy.mode_for(d.name) for d in detectors}
        self._key = policy.hmac_key
        self._all_attributes = "*" in policy.attribute_keys
        # One search decides whether any built-in detector could match a string: each
        # needs a digit, "@", a colon pair (IPv6), or one of the literal prefixes.
        # Most free text has none of them, so it skips ten detector scans.
        self._gate = _builtin_gate(detectors)

    @property
    def detector_names(self) -> tuple[str, ...]:
        """Names of the active detectors, in priority order (for metrics labels)."""
        return tuple(dict.fromkeys(d.name for d in self._detectors))

    def scan(self, text: str) -> list[Finding]:
        """Non-overlapping findings in ``text``, ordered by start; offsets index ``text``.

        Where candidates overlap the earliest wins, then the detector listed
        first (the more specific), then the longest.
        """
        raw: list[tuple[int, int, int, str]] = []
        priority = self._priority
        for detector in self._detectors:
            name = detector.name
            for start, end in detector.find(text):
                if end > start:
                    raw.append((start, priority[name], start - end, name))
        if not raw:
            return []
        raw.sort()
        findings: list[Finding] = []
        last_end = -1
        for start, _, neg_len, name in raw:
            if start >= last_end:
                findings.append(Finding(name, start, start - neg_len))
                last_end = start - neg_len
        return findings

    def redact_text(self, text: str) -> tuple[str, list[Finding]]:
        """``text`` with each finding replaced per its mode, and the findings.

        A ``drop`` finding empties the whole string (see module docstring).
        """
        new, findings = self._apply(text)
        return ("" if new is None else new), findings

    def _apply(self, text: str) -> tuple[str | None, list[Finding]]:
        findings = self.scan(text)
        if not findings:
            return text, findings
        parts: list[str] = []
        pos = 0
        modes = self._modes
        for f in findings:
            mode = modes[f.detector]
            if mode == "drop":
                return None, findings
            parts.append(text[pos : f.start])
            label = f.detector.upper()
            if mode == "hash":
                parts.append(f"<{label}:{self._digest(f.detector, text[f.start : f.end])}>")
            else:
                parts.append(f"<{label}>")
            pos = f.end
        parts.append(text[pos:])
        return "".join(parts), findings

    def _digest(self, detector: str, value: str) -> str:
        if detector in _DIGITY:
            value = "".join(ch for ch in value if ch.isalnum()).upper()
        elif detector == "email":
            value = value.lower()
        message = f"{detector}\x00{value}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:16]

    def redact_value(self, value: JsonValue, field: str) -> tuple[JsonValue, list[Redaction]]:
        """Redact every string inside ``value`` (dict values, list items; keys are kept).

        Returns the new value and one :class:`Redaction` per (detector, field
        path), with paths like ``input.messages[0].content``. A dropped string
        becomes ``None``. The input is not modified.
        """
        counts: dict[tuple[str, str], int] = {}
        new = self._walk(value, field, counts)
        return new, _redactions(counts)

    def _walk(self, value: JsonValue, path: str, counts: dict[tuple[str, str], int]) -> JsonValue:
        if isinstance(value, str):
            if len(value) < 6:  # nothing we detect is shorter
                return value
            gate = self._gate
            if gate is not None and gate(value) is None:
                return value
            new, findings = self._apply(value)
            for f in findings:
                key = (f.detector, path)
                counts[key] = counts.get(key, 0) + 1
            return new
        if isinstance(value, dict):
            return {k: self._walk(v, f"{path}.{k}", counts) for k, v in value.items()}
        if isinstance(value, list):
            return [self._walk(v, f"{path}[{i}]", counts) for i, v in enumerate(value)]
        return value

    def _text(self, value: str, path: str, counts: dict[tuple[str, str], int]) -> str | None:
        new = self._walk(value, path, counts)
        assert new is None or isinstance(new, str)
        return new

    def _attribute_selected(self, key: str) -> bool:
        return self._all_attributes or any(
            fnmatch.fnmatchcase(key, pattern) for pattern in self.policy.attribute_keys
        )

    def redact_event(self, event: AnyEvent) -> tuple[AnyEvent, tuple[Redaction, ...]]:
        """A copy of ``event`` with its free-text fields redacted, and what was redacted.

        Covers ``input``, ``output``, ``error.message``/``error.stack``, the
        selected ``attributes``, ``tool.arguments``/``tool.result``,
        ``decisions[i].choice``/``reason``, ``outcome.detail`` and a score's
        ``comment``. Span end/whole events also get the redactions appended to
        their ``redactions`` field; start and score events have no such field,
        so callers carry the returned tuple (e.g. into the assembled span).
        """
        counts: dict[tuple[str, str], int] = {}
        update: dict[str, object] = {}
        if isinstance(event, ScoreEvent):
            if event.comment:
                update["comment"] = self._text(event.comment, "comment", counts)
        else:
            self._redact_span(event, update, counts)
        found: list[Redaction] = _redactions(counts)
        if not found:
            return event, ()
        if not isinstance(event, SpanStartEvent | ScoreEvent):
            update["redactions"] = (*event.redactions, *found)
        return event.model_copy(update=update), tuple(found)

    def _redact_span(
        self,
        event: SpanStartEvent | SpanEndEvent | SpanEvent,
        update: dict[str, object],
        counts: dict[tuple[str, str], int],
    ) -> None:
        n = len(counts)
        if event.attributes:
            attributes = {
                k: self._walk(v, f"attributes.{k}", counts) if self._attribute_selected(k) else v
                for k, v in event.attributes.items()
            }
            if len(counts) > n:
                update["attributes"] = attributes
        if not isinstance(event, SpanEndEvent):
            for name in ("input",):
                n = len(counts)
                new = self._walk(event.input, name, counts)
                if len(counts) > n:
                    update[name] = new
            tool = event.tool
            if tool is not None:
                n = len(counts)
                arguments = self._walk(tool.arguments, "tool.arguments", counts)
                result = self._walk(tool.result, "tool.result", counts)
                if len(counts) > n:
                    update["tool"] = tool.model_copy(
                        update={"arguments": arguments, "result": result}
                    )
        if isinstance(event, SpanStartEvent):
            return
        n = len(counts)
        output = self._walk(event.output, "output", counts)
        if len(counts) > n:
            update["output"] = output
        if event.error is not None:
            n = len(counts)
            message = self._text(event.error.message, "error.message", counts) or ""
            stack = (
                self._text(event.error.stack, "error.stack", counts) if event.error.stack else None
            )
            if len(counts) > n:
                update["error"] = event.error.model_copy(
                    update={"message": message, "stack": stack}
                )
        if event.outcome is not None:
            n = len(counts)
            detail = self._walk(event.outcome.detail, "outcome.detail", counts)
            if len(counts) > n:
                update["outcome"] = event.outcome.model_copy(update={"detail": detail})
        if event.decisions:
            n = len(counts)
            decisions = tuple(
                d.model_copy(
                    update={
                        "choice": self._walk(d.choice, f"decisions[{i}].choice", counts),
                        "reason": self._text(d.reason, f"decisions[{i}].reason", counts)
                        if d.reason
                        else d.reason,
                    }
                )
                for i, d in enumerate(event.decisions)
            )
            if len(counts) > n:
                update["decisions"] = decisions


def _builtin_gate(detectors: list[Detector]) -> Callable[[str], object] | None:
    """A search that finds nothing only where no detector in ``detectors`` can match.

    None (no gate) when any detector is not a built-in one (extra patterns, the
    deny list): their triggers are unknown.
    """
    if any(d.name not in BUILTIN_DETECTORS for d in detectors):
        return None
    parts = [r"[0-9@]", r":[0-9A-Fa-f]{0,4}:", re.escape("-----BEGIN"), "eyJ"]
    parts += [d.gate.pattern for d in detectors if isinstance(d, PrefixDetector)]
    return re.compile("|".join(parts)).search


def _redactions(counts: dict[tuple[str, str], int]) -> list[Redaction]:
    return [
        Redaction(detector=detector, field=path[:_PATH_MAX], count=count)
        for (detector, path), count in counts.items()
    ]
