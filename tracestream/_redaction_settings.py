"""Build the redaction policy from settings: the edge between config and the pure core."""

from __future__ import annotations

from tracestream.streams import RedactionConfigError, RedactionPolicy

from ._settings import Settings, SettingsError

__all__ = ["redaction_policy"]


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
    try:
        return RedactionPolicy(
            modes=dict(settings.redact_modes),
            default_mode=settings.redact_default_mode,
            hmac_key=key,
            detectors=settings.redact_detectors,
            extra_patterns=dict(settings.redact_extra_patterns),
            deny_list=settings.redact_deny_list,
            attribute_keys=settings.redact_attributes,
            phone_regions=settings.redact_phone_regions,
        )
    except RedactionConfigError as exc:
        raise SettingsError(f"invalid redaction settings: {exc}") from None
