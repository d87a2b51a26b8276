"""PII redaction: the redactor, and how it walks strings, JSON values and events.

Pure and synchronous: no Kafka, no Faust, no I/O. One :class:`Redactor` is
built per worker from a :class:`RedactionPolicy` (``_redaction_policy.py``; the
edge builds it from settings, see ``tracestream._redaction_settings``) and is safe to share
between threads. Nothing it returns or raises contains a redacted value.

Modes, per detector:

- ``mask``: the value becomes a typed placeholder, ``<EMAIL>``;
- ``hash``: ``<EMAIL:9f86d081884c7d65>``, a keyed HMAC-SHA256 (first 64 bits)
  of the normalised value, so equal values stay joinable but unreadable;
- ``drop``: the whole string that contained the value is removed (JSON
  ``null``; ``""`` where the contract needs a string, and from ``redact_text``).

Events are covered field by field (see :meth:`Redactor.redact_event` and
``docs/redaction.md``): every string a producer sets goes through the policy
except the tenant and deployment names (``project``, ``service``,
``environment``), ids and enums. User and session ids take their own mode
(``id_mode``, by default the keyed hash when a key is set), so they stay
joinable. A name the contract requires is never emptied: ``drop`` there leaves
the detector's placeholder; and every redacted string is cut to its field's
length limit in the contract, so names stay valid keys for storage and metrics.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import os
import re
from typing import Literal, TypeVar, cast, overload

from pydantic import JsonValue

from tracestream.schemas import (
    Decision,
    ErrorInfo,
    ModelInfo,
    Redaction,
    ScoreEvent,
    SpanEndEvent,
    SpanEvent,
    SpanStartEvent,
    ToolCall,
    TraceInfo,
)

from ._detector import Detector, Finding
from ._detectors import (
    LiteralDetector,
    RegexDetector,
    builtin_detectors,
    builtin_triage,
    shortest_match,
)
from ._redaction_fields import (
    LIMITS,
    SCORE,
    SHAPES,
    TRACE_FIELDS,
    Closing,
    Opening,
    Shape,
    SpanLike,
    redaction_records,
    replaced,
    shape_of,
)
from ._redaction_policy import IdMode, Mode, RedactionConfigError, RedactionPolicy
from ._secrets import Rule, rule_detector

__all__ = ["IdMode", "Mode", "RedactionConfigError", "RedactionPolicy", "Redactor"]

_DIGITY = frozenset(("credit_card", "us_ssn", "phone", "iban"))
# Each memo holds at most this many characters (a few MB; up to 4 bytes each), in
# strings of at most _MEMO_MAX_LEN; a full memo is emptied and refills.
_MEMO_CHARS = 1 << 21
_MEMO_MAX_LEN = 8192
# Trace infos found clean, each at most 5 labels and 64 tags (a few MB at most).
_CLEAN_TRACES_MAX = 4096
_blake2b = hashlib.blake2b
AnyEvent = TypeVar("AnyEvent", bound=SpanStartEvent | SpanEndEvent | SpanEvent | ScoreEvent)


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
        by_placeholder: dict[str, list[Rule]] = {}
        for rule in policy.rules:
            by_placeholder.setdefault(rule.placeholder, []).append(rule)
        detectors += [rule_detector(name, tuple(rules)) for name, rules in by_placeholder.items()]
        if policy.deny_list:
            detectors.append(LiteralDetector("deny_list", policy.deny_list))
        self._detectors = tuple(detectors)
        # A user rule reporting as a built-in name ranks with that built-in.
        self._priority: dict[str, int] = {}
        for i, d in enumerate(detectors):
            self._priority.setdefault(d.name, i)
        self._modes = {d.name: policy.mode_for(d.name) for d in detectors}
        self._id_modes = dict.fromkeys(self._modes, policy.effective_id_mode)
        # Strings shorter than every detector's shortest match are clean without a look.
        self._short = min((shortest_match(d) for d in detectors), default=1 << 30)
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
        self._clean_traces: dict[int, TraceInfo] = {}
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

    def _replace(
        self, text: str, findings: list[Finding], modes: dict[str, Mode] | None = None
    ) -> str | None:
        parts: list[str] = []
        pos = 0
        if modes is None:
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
        return new, redaction_records(counts)

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
        if len(text) < self._short or text in self._clean:
            return text
        redacted = self._redacted(text)
        if redacted is None:
            return text
        _count(redacted[1], path, counts)
        return redacted[0]

    def _redacted(self, text: str, ids: bool = False) -> tuple[str | None, list[Finding]] | None:
        """The walk's ``_replace(text, scan(text))`` and the findings; None where nothing
        is found. Remembers clean strings, and redacted ones by a keyed digest.

        ``ids``: replace in the id mode (user and session ids); remembered apart.
        """
        # hash() is cached on the string (the clean-set lookup computed it): a digest
        # is made only for strings that may be in the memo, or are about to be.
        maybe_known = hash(text) in self._redacted_hashes
        if maybe_known:
            known = self._redacted_memo.get(self._digest_of(text, ids))
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
        redacted = (self._replace(text, findings, self._id_modes if ids else None), findings)
        size = len(text)
        if size <= _MEMO_MAX_LEN:
            memo, hashes = self._redacted_memo, self._redacted_hashes
            self._redacted_chars += size + len(redacted[0] or "")
            if self._redacted_chars > _MEMO_CHARS:
                memo.clear()
                hashes.clear()
                self._redacted_chars = size
            memo[self._digest_of(text, ids)] = redacted
            hashes.add(hash(text))
        return redacted

    def _digest_of(self, text: str, ids: bool = False) -> bytes:
        data = text.encode("utf-8", "surrogatepass")
        # An id and the same text elsewhere are replaced in different modes.
        person = b"id" if ids else b""
        return _blake2b(data, key=self._memo_key, digest_size=16, person=person).digest()

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
        short = self._short
        new: JsonValue
        for k, v in value.items():
            if isinstance(v, str):
                if len(v) < short or v in clean:
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
        short = self._short
        new: JsonValue
        for i, v in enumerate(value):
            if isinstance(v, str):
                if len(v) < short or v in clean:
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
        """A copy of ``event`` with every text field redacted, and what was redacted.

        Covers the trace's ``name``, ``user_id``, ``session_id`` (in the id
        mode), ``tags`` and ``release``; a span's ``name``, ``input``,
        ``output``, ``model`` (name, provider, parameter values), ``tool``
        (name, call id, arguments, result), ``error`` (type, message, stack),
        ``outcome`` (label, detail), ``decisions`` (name, choice, reason), the
        selected ``attributes`` values and any ``redactions`` a producer set;
        a score's ``name``, categorical ``value`` and ``comment``. Not the
        envelope's ``project``, ``service`` and ``environment`` (deployment
        names the operator configures), ids, enums, numbers, or dict keys.

        A dropped string becomes ``None`` where the field is optional, leaves
        the tuple (tags), or becomes the finding's placeholder where the
        contract requires a non-empty string (names, labels, types). A
        replacement longer than its field allows is cut to the limit.

        Span end/whole events also get the redactions appended to their
        ``redactions`` field; start and score events have no such field, so
        callers carry the returned tuple (e.g. into the assembled span).
        """
        counts: dict[tuple[str, str], int] = {}
        update: dict[str, object] = {}
        shape = SHAPES.get(type(event)) or shape_of(type(event))
        trace = event.trace
        if trace is not None:
            new_trace = self._trace_info(trace, counts)
            if new_trace is not trace:
                update["trace"] = new_trace
        if shape is SCORE:
            if isinstance(event, ScoreEvent):  # always; narrows the type
                self._redact_score(event, update, counts)
        else:
            self._redact_span(cast(SpanLike, event), shape, update, counts)
        if not counts:
            return event, ()
        found: list[Redaction] = redaction_records(counts)
        if shape.closing:  # only end and whole span events have the field
            earlier: object = update.get("redactions", cast(Closing, event).redactions)
            update["redactions"] = (*cast(tuple[Redaction, ...], earlier), *found)
        return replaced(event, update), tuple(found)

    @overload
    def _label(
        self,
        text: str,
        path: str,
        counts: dict[tuple[str, str], int],
        limit: int,
        *,
        required: Literal[True],
        ids: bool = False,
    ) -> str: ...

    @overload
    def _label(
        self,
        text: str,
        path: str,
        counts: dict[tuple[str, str], int],
        limit: int,
        *,
        required: Literal[False] = False,
        ids: bool = False,
    ) -> str | None: ...

    def _label(
        self,
        text: str,
        path: str,
        counts: dict[tuple[str, str], int],
        limit: int,
        *,
        required: bool = False,
        ids: bool = False,
    ) -> str | None:
        """``text`` redacted and cut to ``limit`` characters (the same object when clean).

        A dropped text is ``None``, or the placeholder of the detector that
        dropped it when ``required`` (the contract needs a non-empty string).
        """
        if len(text) < self._short or text in self._clean:
            return text
        redacted = self._redacted(text, ids)
        if redacted is None:
            return text
        new, findings = redacted
        _count(findings, path, counts)
        if new is None:
            if not required:
                return None
            modes = self._id_modes if ids else self._modes
            dropped = next(f.detector for f in findings if modes[f.detector] == "drop")
            new = f"<{dropped.upper()}>"
        return new if len(new) <= limit else new[:limit]

    def _trace_info(self, info: TraceInfo, counts: dict[tuple[str, str], int]) -> TraceInfo:
        # Every event of a trace repeats its trace info, most hold nothing to redact, and
        # the fast parser hands out one shared instance per distinct value: clean ones
        # are remembered by identity (held, so their ids cannot be reused meanwhile).
        clean_traces = self._clean_traces
        if clean_traces.get(id(info)) is info:
            return info
        new_info = self._trace_fields(info, counts)
        if new_info is info:
            if len(clean_traces) >= _CLEAN_TRACES_MAX:
                clean_traces.clear()
            clean_traces[id(info)] = info
        return new_info

    def _trace_fields(self, info: TraceInfo, counts: dict[tuple[str, str], int]) -> TraceInfo:
        update: dict[str, object] = {}
        label = self._label
        fields = info.__dict__
        for name, path, limit, ids in TRACE_FIELDS:
            value = fields[name]
            if value is not None:
                new = label(value, path, counts, limit, ids=ids)
                if new is not value:
                    update[name] = new
        tags = info.tags
        if tags:
            short, clean = self._short, self._clean
            kept: list[str] = []
            changed = False
            for i, tag in enumerate(tags):
                if len(tag) < short or tag in clean:
                    kept.append(tag)
                    continue
                new_tag = label(tag, f"trace.tags[{i}]", counts, LIMITS.tag)
                if new_tag is not None:  # a dropped tag leaves the tuple
                    kept.append(new_tag)
                changed = changed or new_tag is not tag
            if changed:
                update["tags"] = tuple(kept)
        return replaced(info, update) if update else info

    def _redact_score(
        self, event: ScoreEvent, update: dict[str, object], counts: dict[tuple[str, str], int]
    ) -> None:
        label = self._label
        name = label(event.name, "name", counts, LIMITS.score_name, required=True)
        if name is not event.name:
            update["name"] = name
        value = event.value
        if isinstance(value, str):
            new_value = label(value, "value", counts, LIMITS.score_value, required=True)
            if new_value is not value:
                update["value"] = new_value
        if event.comment:
            comment = label(event.comment, "comment", counts, LIMITS.comment)
            if comment is not event.comment:
                update["comment"] = comment

    def _redact_span(
        self,
        event: SpanLike,
        shape: Shape,
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
            self._redact_opening(cast(Opening, event), update, counts)
        if shape.closing:
            self._redact_closing(cast(Closing, event), update, counts)

    def _redact_opening(
        self, event: Opening, update: dict[str, object], counts: dict[tuple[str, str], int]
    ) -> None:
        name = event.name
        if len(name) >= self._short and name not in self._clean:
            new_name = self._label(name, "name", counts, LIMITS.span_name, required=True)
            if new_name is not name:
                update["name"] = new_name
        new = self._walk(event.input, "input", counts)
        if new is not event.input:
            update["input"] = new
        model = event.model
        if model is not None:
            new_model = self._model(model, counts)
            if new_model is not model:
                update["model"] = new_model
        tool = event.tool
        if tool is not None:
            new_tool = self._tool(tool, counts)
            if new_tool is not tool:
                update["tool"] = new_tool

    def _model(self, model: ModelInfo, counts: dict[tuple[str, str], int]) -> ModelInfo:
        label, short, clean = self._label, self._short, self._clean
        name = model.name
        if len(name) >= short and name not in clean:
            name = label(name, "model.name", counts, LIMITS.model_name, required=True)
        provider = new_provider = model.provider
        if provider is not None and len(provider) >= short and provider not in clean:
            new_provider = label(provider, "model.provider", counts, LIMITS.provider)
        parameters = model.parameters
        new_parameters = (
            self._dict(parameters, "model.parameters", counts) if parameters else parameters
        )
        if name is model.name and new_provider is provider and new_parameters is parameters:
            return model
        return replaced(
            model, {"name": name, "provider": new_provider, "parameters": new_parameters}
        )

    def _tool(self, tool: ToolCall, counts: dict[tuple[str, str], int]) -> ToolCall:
        label = self._label
        name = label(tool.name, "tool.name", counts, LIMITS.tool_name, required=True)
        call_id = tool.call_id
        new_call_id = call_id and label(call_id, "tool.call_id", counts, LIMITS.call_id)
        arguments = self._walk(tool.arguments, "tool.arguments", counts)
        result = self._walk(tool.result, "tool.result", counts)
        if (
            name is tool.name
            and new_call_id is call_id
            and arguments is tool.arguments
            and result is tool.result
        ):
            return tool
        return replaced(
            tool,
            {"name": name, "call_id": new_call_id, "arguments": arguments, "result": result},
        )

    def _redact_closing(
        self, event: Closing, update: dict[str, object], counts: dict[tuple[str, str], int]
    ) -> None:
        output = self._walk(event.output, "output", counts)
        if output is not event.output:
            update["output"] = output
        error = event.error
        if error is not None:
            new_error = self._error(error, counts)
            if new_error is not error:
                update["error"] = new_error
        outcome = event.outcome
        if outcome is not None:
            label = outcome.label
            if len(label) >= self._short and label not in self._clean:
                label = self._label(
                    label, "outcome.label", counts, LIMITS.outcome_label, required=True
                )
            detail = self._walk(outcome.detail, "outcome.detail", counts)
            if label is not outcome.label or detail is not outcome.detail:
                update["outcome"] = replaced(outcome, {"label": label, "detail": detail})
        decisions = event.decisions
        if decisions:
            changed = [self._decision(d, i, counts) for i, d in enumerate(decisions)]
            if any(new is not old for new, old in zip(changed, decisions, strict=True)):
                update["decisions"] = tuple(changed)
        if event.redactions:  # set by the worker; a producer's are text like any other
            redactions = [self._redaction(r, i, counts) for i, r in enumerate(event.redactions)]
            if any(new is not old for new, old in zip(redactions, event.redactions, strict=True)):
                update["redactions"] = tuple(redactions)

    def _error(self, error: ErrorInfo, counts: dict[tuple[str, str], int]) -> ErrorInfo:
        label = self._label
        type_ = label(error.type, "error.type", counts, LIMITS.error_type, required=True)
        message = label(error.message, "error.message", counts, LIMITS.message)
        stack = error.stack and label(error.stack, "error.stack", counts, LIMITS.stack)
        if type_ is error.type and message is error.message and stack is error.stack:
            return error
        # A dropped message is empty (the field is a string); an empty stack is none.
        return replaced(error, {"type": type_, "message": message or "", "stack": stack or None})

    def _settled(self, value: JsonValue) -> bool:
        """True when ``value`` certainly needs no redaction: saves building its path."""
        if isinstance(value, str):
            return len(value) < self._short or value in self._clean
        return not isinstance(value, _CONTAINERS)

    def _decision(self, decision: Decision, i: int, counts: dict[tuple[str, str], int]) -> Decision:
        name = decision.name
        choice = decision.choice
        reason = decision.reason
        new_name = (
            name
            if len(name) < self._short or name in self._clean
            else self._label(
                name, f"decisions[{i}].name", counts, LIMITS.decision_name, required=True
            )
        )
        new_choice = (
            choice
            if self._settled(choice)
            else self._walk(choice, f"decisions[{i}].choice", counts)
        )
        new_reason = (
            reason
            if not reason or self._settled(reason)
            else self._label(reason, f"decisions[{i}].reason", counts, LIMITS.reason)
        )
        if new_name is name and new_choice is choice and new_reason is reason:
            return decision
        return replaced(decision, {"name": new_name, "choice": new_choice, "reason": new_reason})

    def _redaction(
        self, record: Redaction, i: int, counts: dict[tuple[str, str], int]
    ) -> Redaction:
        label = self._label
        detector = label(
            record.detector, f"redactions[{i}].detector", counts, LIMITS.path, required=True
        )
        field = label(record.field, f"redactions[{i}].field", counts, LIMITS.path, required=True)
        if detector is record.detector and field is record.field:
            return record
        return replaced(record, {"detector": detector, "field": field})


_CONTAINERS = (dict, list)


def _count(findings: list[Finding], path: str, counts: dict[tuple[str, str], int]) -> None:
    for f in findings:
        key = (f.detector, path)
        counts[key] = counts.get(key, 0) + 1
