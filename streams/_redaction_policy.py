"""The redaction policy: what to detect and what to do with it, validated on construction.

Built by the edge from settings (``tracestream._redaction_settings``) and handed
to :class:`~tracestream.streams.Redactor`; pure data, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from tracestream.schemas import TracestreamError

from ._detectors import BUILTIN_DETECTORS
from ._secrets import Rule
from ._validators import VALIDATORS

__all__ = ["IdMode", "Mode", "RedactionConfigError", "RedactionPolicy"]

Mode = Literal["mask", "hash", "drop"]
#: Mode of user and session ids; ``auto`` is ``hash`` when a key is set, else ``mask``.
IdMode = Literal["auto", "mask", "hash", "drop"]
_MODES: frozenset[str] = frozenset(("mask", "hash", "drop"))
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class RedactionConfigError(TracestreamError, ValueError):
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
        rules: declarative detector entries (:class:`Rule`: name, pattern, keywords,
            validator, placeholder); findings report as the entry's ``placeholder``,
            which may be a built-in name (``api_key``) or a new one.
        deny_list: literals redacted as detector ``deny_list`` (whole word, any case).
        attribute_keys: span attribute keys to redact (``fnmatch`` globs; ``*`` = all).
        phone_regions: regions whose national phone formats are recognised.
        id_mode: mode of every finding in a user or session id, whatever its
            detector: ``auto`` (the default) hashes when ``hmac_key`` is set and
            masks when not, so ids stay joinable where they can and are never
            left readable where they cannot.

    Raises:
        RedactionConfigError: on construction, naming the bad part and the fix.
    """

    modes: Mapping[str, Mode] = field(default_factory=dict)
    default_mode: Mode = "mask"
    hmac_key: bytes = b""
    detectors: tuple[str, ...] = BUILTIN_DETECTORS
    extra_patterns: Mapping[str, str] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()
    deny_list: tuple[str, ...] = ()
    attribute_keys: tuple[str, ...] = ("*",)
    phone_regions: tuple[str, ...] = ("US", "GB")
    id_mode: IdMode = "auto"

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
        for rule in self.rules:
            if not _NAME.match(rule.name) or not _NAME.match(rule.placeholder):
                raise RedactionConfigError(
                    f"rule {rule.name!r}: name and placeholder {rule.placeholder!r} must match "
                    f"{_NAME.pattern}"
                )
            if rule.validator not in VALIDATORS:
                raise RedactionConfigError(
                    f"rule {rule.name!r}: unknown validator {rule.validator!r}; use one of "
                    f"{', '.join(VALIDATORS)}"
                )
            try:
                re.compile(rule.pattern)
            except re.error as exc:
                raise RedactionConfigError(
                    f"rule {rule.name!r}: pattern is not a regex: {exc}"
                ) from None
        for name, mode in {**self.modes, "*": self.default_mode}.items():
            if mode not in _MODES:
                raise RedactionConfigError(f"mode {mode!r} for {name!r}: use mask, hash or drop")
        if self.id_mode != "auto" and self.id_mode not in _MODES:
            raise RedactionConfigError(f"id mode {self.id_mode!r}: use auto, mask, hash or drop")
        if not self.hmac_key and "hash" in (self.default_mode, self.id_mode, *self.modes.values()):
            raise RedactionConfigError(
                "hash mode needs an HMAC key and none is set. Fix: set "
                "TRACESTREAM_REDACT_HMAC_KEY or TRACESTREAM_REDACT_HMAC_KEY_FILE, "
                "or use mask mode"
            )

    def mode_for(self, detector: str) -> Mode:
        """The mode applied to values found by ``detector`` (outside user and session ids)."""
        return self.modes.get(detector, self.default_mode)

    @property
    def effective_id_mode(self) -> Mode:
        """The mode applied to every finding in a user or session id."""
        if self.id_mode == "auto":
            return "hash" if self.hmac_key else "mask"
        return self.id_mode
