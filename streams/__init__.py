"""tracestream.streams"""

from ._detector import Detector, Finding
from ._detectors import BUILTIN_DETECTORS
from ._redaction import Mode, RedactionConfigError, RedactionPolicy, Redactor

__all__ = [
    "BUILTIN_DETECTORS",
    "Detector",
    "Finding",
    "Mode",
    "RedactionConfigError",
    "RedactionPolicy",
    "Redactor",
]
