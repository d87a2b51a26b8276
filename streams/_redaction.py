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
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, NamedTuple, TypeVar, cast

from pydantic import BaseModel, JsonValue

from tracestream.schemas import (
    Decision,
    Redaction,
    ScoreEvent,
    SpanEndEvent,
    SpanEvent,
    SpanStartEvent,
)

from ._detector import Detector, Finding
from ._detectors import (
    BUILTIN_DETECTORS,
    LiteralDetector,
    RegexDetector,
    builtin_detectors,
    builtin_triage,
)

__all__ = ["Mode", "RedactionConfigError", "RedactionPolicy", "Redactor"]

Mode = Literal["mask", "hash", "drop"]
_MODES: frozenset[str] = frozenset(("mask", "hash", "drop"))
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_DIGITY = frozenset(("credit_card", "us_ssn", "phone", "iban"))
_PATH_MAX = 256
# Each memo holds at most this many characters (a few MB; up to 4 bytes each), in
# strings of at most _MEMO_MAX_LEN; a full memo is emptied and refills.
_MEMO_CHARS = 1 << 21
_MEMO_MAX_LEN = 8192
_blake2b = hashlib.blake2b
AnyEvent = TypeVar("AnyEvent", SpanStartEvent, SpanEndEvent, SpanEvent, ScoreEvent)
M = TypeVar("M", bound=BaseModel)


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
        # Per string, only the detectors whose necessary condition holds run (see
        # builtin_triage): most strings in events need none or one of the ten.
        self._triage = builtin_triage(self._detectors)
        self._selected: dict[str, bool] = {}
        # Strings found clean, so a repeat (a system prompt, a chat history re-sent with
        # every turn, a templated reply) costs a hash instead of a scan. Only clean ones:
        # the memo never holds a value that was redacted.
        self._clean: set[str] = set()
        self._clean_chars = 0
        # Strings redacted before, keyed by a keyed digest so the memo holds no value
        # that was found: a user message with a card number comes back in the input of
        # every later generation of the conversation.
        self._redacted_memo: dict[bytes, tuple[str | None, list[Finding]]] = {}
        self._redacted_hashes: set[int] = set()
        self._redacted_chars = 0
        self._memo_key = os.urandom(32)

    @property
    def detector_names(self) -> tuple[str, ...]:
        """Names of the active detectors, in priority order (for metrics labels)."""
        return tuple(dict.fromkeys(d.name for d in self._detectors))

    def scan(self, text: str) -> list[Finding]:
        """Non-overlapping findings in ``text``, ordered by start; offsets index ``text``.

        Where candidates overlap the earliest wins, then the detector listed
        first (the more specific), then the longest.
        """
        detectors = self._triage(text)
        return self._scan(text, detectors) if detectors else []

    def _scan(self, text: str, detectors: list[Detector]) -> list[Finding]:
        raw: list[tuple[int, int, int, str]] = []
        priority = self._priority
        for detector in detectors:
            name = detector.name
            for start, end in detector.find(text):
                if end > start:
                    raw.append((start, priority[name], start - end, name))
        if not raw:
            return []
        if len(raw) == 1:
            start, _, neg_len, name = raw[0]
            return [Finding(name, start, start - neg_len)]
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
        findings = self.scan(text)
        new = self._replace(text, findings) if findings else text
        return ("" if new is None else new), findings

    def _replace(self, text: str, findings: list[Finding]) -> str | None:
        parts: list[str] = []
        pos = 0
        modes = self._modes
        for f in findings:
            mode = modes[f.detector]
            if mode == "drop":
                return None
            parts.append(text[pos : f.start])
            label = f.detector.upper()
            if mode == "hash":
                parts.append(f"<{label}:{self._digest(f.detector, text[f.start : f.end])}>")
            else:
                parts.append(f"<{label}>")
            pos = f.end
        parts.append(text[pos:])
        return "".join(parts)

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
        becomes ``None``. The input is not modified; where nothing in a dict or
        list was redacted, the same object is returned.
        """
        counts: dict[tuple[str, str], int] = {}
        new = self._walk(value, field, counts)
        return new, _redactions(counts)

    # The walk builds a field path only where something is found or a container is
    # entered, and copies a dict or list only once one of its items changed: most
    # strings in events hold nothing to redact.
    def _walk(self, value: JsonValue, path: str, counts: dict[tuple[str, str], int]) -> JsonValue:
        if isinstance(value, str):
            return self._text(value, path, counts)
        if isinstance(value, dict):
            return self._dict(value, path, counts)
        if isinstance(value, list):
            return self._list(value, path, counts)
        return value

    def _text(self, text: str, path: str, counts: dict[tuple[str, str], int]) -> str | None:
        if len(text) < 6 or text in self._clean:  # nothing we detect is shorter than 6
            return text
        redacted = self._redacted(text)
        if redacted is None:
            return text
        _count(redacted[1], path, counts)
        return redacted[0]

    def _redacted(self, text: str) -> tuple[str | None, list[Finding]] | None:
        """The walk's ``_replace(text, scan(text))`` and the findings; None where nothing
        is found. Remembers clean strings, and redacted ones by a keyed digest."""
        # hash() is cached on the string (the clean-set lookup computed it): a digest
        # is made only for strings that may be in the memo, or are about to be.
        maybe_known = hash(text) in self._redacted_hashes
        if maybe_known:
            known = self._redacted_memo.get(self._digest_of(text))
            if known is not None:
                return known
        detectors = self._triage(text)
        if not detectors:
            self._remember_clean(text)
            return None
        findings = self._scan(text, detectors)
        if not findings:
            self._remember_clean(text)
            return None
        redacted = (self._replace(text, findings), findings)
        size = len(text)
        if size <= _MEMO_MAX_LEN:
            memo, hashes = self._redacted_memo, self._redacted_hashes
            self._redacted_chars += size + len(redacted[0] or "")
            if self._redacted_chars > _MEMO_CHARS:
                memo.clear()
                hashes.clear()
                self._redacted_chars = size
            memo[self._digest_of(text)] = redacted
            hashes.add(hash(text))
        return redacted

    def _digest_of(self, text: str) -> bytes:
        data = text.encode("utf-8", "surrogatepass")
        return _blake2b(data, key=self._memo_key, digest_size=16).digest()

    def _remember_clean(self, text: str) -> None:
        size = len(text)
        if size > _MEMO_MAX_LEN:
            return
        # Racing threads may miscount a little; the bound stays approximate, not broken.
        self._clean_chars += size
        if self._clean_chars > _MEMO_CHARS:
            self._clean.clear()
            self._clean_chars = size
        self._clean.add(text)

    def _dict(
        self, value: dict[str, JsonValue], path: str, counts: dict[tuple[str, str], int]
    ) -> dict[str, JsonValue]:
        out: dict[str, JsonValue] | None = None
        clean = self._clean
        new: JsonValue
        for k, v in value.items():
            if isinstance(v, str):
                if len(v) < 6 or v in clean:
                    continue
                redacted = self._redacted(v)
                if redacted is None:
                    continue
                _count(redacted[1], f"{path}.{k}", counts)
                new = redacted[0]
            elif isinstance(v, _CONTAINERS):
                new = self._walk(v, f"{path}.{k}", counts)
                if new is v:
                    continue
            else:
                continue
            if out is None:
                out = dict(value)
            out[k] = new
        return value if out is None else out

    # The twin of _dict: one loop shared by both would pay for a path-building
    # callback per item, on the hottest loop of the worker.
    def _list(
        self, value: list[JsonValue], path: str, counts: dict[tuple[str, str], int]
    ) -> list[JsonValue]:
        out: list[JsonValue] | None = None
        clean = self._clean
        new: JsonValue
        for i, v in enumerate(value):
            if isinstance(v, str):
                if len(v) < 6 or v in clean:
                    continue
                redacted = self._redacted(v)
                if redacted is None:
                    continue
                _count(redacted[1], f"{path}[{i}]", counts)
                new = redacted[0]
            elif isinstance(v, _CONTAINERS):
                new = self._walk(v, f"{path}[{i}]", counts)
                if new is v:
                    continue
            else:
                continue
            if out is None:
                out = list(value)
            out[i] = new
        return value if out is None else out

    def _attribute_selected(self, key: str) -> bool:
        selected = self._selected.get(key)
        if selected is None:
            selected = any(
                fnmatch.fnmatchcase(key, pattern) for pattern in self.policy.attribute_keys
            )
            if len(self._selected) < 4096:  # keys come from producers: bound the memo
                self._selected[key] = selected
        return selected

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
        shape = _SHAPES.get(type(event)) or _shape(type(event))
        if shape is _SCORE:
            if isinstance(event, ScoreEvent) and event.comment:
                update["comment"] = self._text(event.comment, "comment", counts)
        else:
            self._redact_span(cast(_Span, event), shape, update, counts)
        if not counts:
            return event, ()
        found: list[Redaction] = _redactions(counts)
        if shape.closing:  # only end and whole span events have the field
            update["redactions"] = (*cast(_Closing, event).redactions, *found)
        return _replaced(event, update), tuple(found)

    def _redact_span(
        self,
        event: _Span,
        shape: _Shape,
        update: dict[str, object],
        counts: dict[tuple[str, str], int],
    ) -> None:
        attributes = event.attributes
        if attributes:
            if self._all_attributes:
                new_attributes = self._dict(attributes, "attributes", counts)
            else:
                selected = self._attribute_selected
                chosen = {k: v for k, v in attributes.items() if selected(k)}
                new_chosen = self._dict(chosen, "attributes", counts) if chosen else chosen
                new_attributes = (
                    attributes if new_chosen is chosen else {**attributes, **new_chosen}
                )
            if new_attributes is not attributes:
                update["attributes"] = new_attributes
        if shape.opening:
            opening = cast(_Opening, event)
            new = self._walk(opening.input, "input", counts)
            if new is not opening.input:
                update["input"] = new
            tool = opening.tool
            if tool is not None:
                arguments = self._walk(tool.arguments, "tool.arguments", counts)
                result = self._walk(tool.result, "tool.result", counts)
                if arguments is not tool.arguments or result is not tool.result:
                    update["tool"] = tool.model_copy(
                        update={"arguments": arguments, "result": result}
                    )
        if not shape.closing:
            return
        closing = cast(_Closing, event)
        output = self._walk(closing.output, "output", counts)
        if output is not closing.output:
            update["output"] = output
        error = closing.error
        if error is not None:
            message = self._text(error.message, "error.message", counts)
            stack = self._text(error.stack, "error.stack", counts) if error.stack else None
            if message is not error.message or (error.stack and stack is not error.stack):
                update["error"] = error.model_copy(
                    update={"message": message or "", "stack": stack}
                )
        outcome = closing.outcome
        if outcome is not None:
            detail = self._walk(outcome.detail, "outcome.detail", counts)
            if detail is not outcome.detail:
                update["outcome"] = outcome.model_copy(update={"detail": detail})
        decisions = closing.decisions
        if decisions:
            changed = [self._decision(d, i, counts) for i, d in enumerate(decisions)]
            if any(new is not old for new, old in zip(changed, decisions, strict=True)):
                update["decisions"] = tuple(changed)

    def _settled(self, value: JsonValue) -> bool:
        """True when ``value`` certainly needs no redaction: saves building its path."""
        if isinstance(value, str):
            return len(value) < 6 or value in self._clean
        return not isinstance(value, _CONTAINERS)

    def _decision(self, decision: Decision, i: int, counts: dict[tuple[str, str], int]) -> Decision:
        choice = decision.choice
        reason = decision.reason
        new_choice = (
            choice
            if self._settled(choice)
            else self._walk(choice, f"decisions[{i}].choice", counts)
        )
        new_reason = (
            reason
            if not reason or self._settled(reason)
            else self._text(reason, f"decisions[{i}].reason", counts)
        )
        if new_choice is choice and new_reason is reason:
            return decision
        return decision.model_copy(update={"choice": new_choice, "reason": new_reason})


_Span = SpanStartEvent | SpanEndEvent | SpanEvent
_Opening = SpanStartEvent | SpanEvent
_Closing = SpanEndEvent | SpanEvent
_CONTAINERS = (dict, list)


class _Shape(NamedTuple):
    """Which groups of redactable fields an event class has."""

    opening: bool  # input, tool
    closing: bool  # output, error, outcome, decisions, redactions


_SCORE = _Shape(False, False)
# By exact class: a dict lookup instead of isinstance checks through pydantic's
# metaclass on every event; subclasses are classified once by _shape.
_SHAPES: dict[type, _Shape] = {
    ScoreEvent: _SCORE,
    SpanStartEvent: _Shape(True, False),
    SpanEndEvent: _Shape(False, True),
    SpanEvent: _Shape(True, True),
}


def _shape(cls: type) -> _Shape:
    for base, shape in list(_SHAPES.items()):
        if issubclass(cls, base):
            _SHAPES[cls] = shape
            return shape
    raise TypeError(f"not an event: {cls.__name__}")


def _count(findings: list[Finding], path: str, counts: dict[tuple[str, str], int]) -> None:
    for f in findings:
        key = (f.detector, path)
        counts[key] = counts.get(key, 0) + 1


# Redaction records are immutable and few distinct ones occur (a detector and a field
# path), so equal ones are shared instead of validated again; the memo is bounded
# because paths include producers' attribute keys.
_RECORDS: dict[tuple[str, str, int], Redaction] = {}
_RECORDS_MAX = 8192


def _redactions(counts: dict[tuple[str, str], int]) -> list[Redaction]:
    records = _RECORDS
    out: list[Redaction] = []
    for (detector, path), count in counts.items():
        key = (detector, path, count)
        record = records.get(key)
        if record is None:
            record = Redaction(detector=detector, field=path[:_PATH_MAX], count=count)
            if len(records) < _RECORDS_MAX:
                records[key] = record
        out.append(record)
    return out


_setattr = object.__setattr__
_new = object.__new__
_PLAIN: dict[type, bool] = {}


def _replaced(model: M, update: dict[str, object]) -> M:
    """``model.model_copy(update=update)`` without its generic copying, for models
    without private attributes or extra fields (every event model)."""
    cls = type(model)
    plain = _PLAIN.get(cls)
    if plain is None:
        plain = _PLAIN[cls] = not cls.__private_attributes__ and (
            cls.model_config.get("extra") != "allow"
        )
    if not plain:
        return model.model_copy(update=update)
    new = _new(cls)
    _setattr(new, "__dict__", {**model.__dict__, **update})
    fields_set = model.__pydantic_fields_set__
    # Holding every field, it cannot grow: keep it (a constructed model's is shared,
    # see schemas/_construct.py); else the copy gets a set of its own.
    if len(fields_set) != len(cls.__pydantic_fields__):
        fields_set = fields_set | update.keys()
    _setattr(new, "__pydantic_fields_set__", fields_set)
    _setattr(new, "__pydantic_extra__", None)
    _setattr(new, "__pydantic_private__", None)
    return new
