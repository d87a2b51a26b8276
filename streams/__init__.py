"""tracestream.streams"""

from ._anomaly import AnomalyScorer, BaselineState
from ._assembly import Assembler, AssemblyOutput
from ._detector import Detector, Finding
from ._detectors import BUILTIN_DETECTORS
from ._pricing import PriceOverride, Pricer, Quote
from ._redaction import Mode, RedactionConfigError, RedactionPolicy, Redactor
from ._sketch import SketchBins
from ._trace_state import TraceState
from ._windows import WindowAggregator, WindowState
from ._windows import merge as merge_windows

__all__ = [
    "BUILTIN_DETECTORS",
    "AnomalyScorer",
    "Assembler",
    "AssemblyOutput",
    "BaselineState",
    "Detector",
    "Finding",
    "Mode",
    "PriceOverride",
    "Pricer",
    "Quote",
    "RedactionConfigError",
    "RedactionPolicy",
    "Redactor",
    "SketchBins",
    "TraceState",
    "WindowAggregator",
    "WindowState",
    "merge_windows",
]
