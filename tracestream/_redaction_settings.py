"""Build the redaction policy from settings: the edge between config and the pure core."""

from __future__ import annotations

import fnmatch
import logging

from tracestream.streams import BUILTIN_DETECTORS, RedactionConfigError, RedactionPolicy
from tracestream.streams import SecretRule as Rule

from ._settings import Settings, SettingsError

__all__ = ["detector_names", "redaction_policy"]


def detector_names(patterns: tuple[str, ...]) -> tuple[str, ...]:
    """The built-in detectors ``patterns`` (names or globs, ``*`` = all) select, in
    priority order; a pattern that selects none is kept as is, so the policy reports it."""
    chosen = [d for d in BUILTIN_DETECTORS if any(fnmatch.fnmatchcase(d, p) for p in patterns)]
    unmatched = [
        p for p in patterns if not any(fnmatch.fnmatchcase(d, p) for d in BUILTIN_DETECTORS)
    ]
    return (*chosen, *unmatched)


def redaction_policy(settings: Settings) -> RedactionPolicy:
    """The :class:`RedactionPolicy` the settings describe.

    Reads the HMAC key from ``redact_hmac_key_file`` if set, else from
    ``redact_hmac_key``. Called once at worker or CLI start-up.

    Raises:
        SettingsError: the key file cannot be read, hash mode has no key, or a
            detector name, mode or extra regex is invalid.
    """
    key = b""
    if settings.redact_hmac_key_file is not None:
        try:
            key = settings.redact_hmac_key_file.read_bytes().strip()
        except OSError as exc:
            raise SettingsError(
                f"redact_hmac_key_file {settings.redact_hmac_key_file}: {exc.strerror}. "
                "Fix: point TRACESTREAM_REDACT_HMAC_KEY_FILE at a readable file."
            ) from None
    elif settings.redact_hmac_key is not None:
        key = settings.redact_hmac_key.get_secret_value().encode()
    if settings.redact_id_mode == "auto" and not key:
        logging.getLogger(__name__).info(
            "no redaction HMAC key is set: PII in user and session ids is masked, not "
            "hashed (set TRACESTREAM_REDACT_HMAC_KEY_FILE to keep them joinable)"
        )
    try:
        return RedactionPolicy(
            modes=dict(settings.redact_modes),
            default_mode=settings.redact_default_mode,
            hmac_key=key,
            detectors=detector_names(settings.redact_detectors),
            extra_patterns={
                name: p for name, p in settings.redact_extra_patterns.items() if isinstance(p, str)
            },
            rules=tuple(
                Rule(
                    name,
                    p.pattern,
                    p.keywords,
                    validator=p.validator,
                    placeholder=p.placeholder or name,
                    source="redact_extra_patterns",
                    ignore_case=p.ignore_case,
                )
                for name, p in settings.redact_extra_patterns.items()
                if not isinstance(p, str)
            ),
            deny_list=settings.redact_deny_list,
            attribute_keys=settings.redact_attributes,
            phone_regions=settings.redact_phone_regions,
            id_mode=settings.redact_id_mode,
        )
    except RedactionConfigError as exc:
        raise SettingsError(f"invalid redaction settings: {exc}") from None
