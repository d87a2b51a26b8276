"""tracestream.streams: the worker's pure processing core and its runtimes.

The core (validation, redaction, pricing, assembly, windows, anomaly scoring)
is plain synchronous code exported here; the runtimes that move data in and
out of Kafka live in :mod:`tracestream.streams.runtime` (aiokafka by default,
or Faust) and are started by ``tracestream worker``.
"""

from ._anomaly import AnomalyScorer, BaselineState
from ._assembly import Assembler, AssemblyOutput
from ._detector import Detector, Finding
from ._detectors import BUILTIN_DETECTORS
from ._metrics import PipelineMetrics
from ._pipeline import BatchOutput, Pipeline, Stages
from ._pricing import PriceOverride, Pricer, Quote
from ._redaction import IdMode, Mode, RedactionConfigError, RedactionPolicy, Redactor
from ._secrets import Rule as SecretRule
from ._sketch import SketchBins
from ._trace_state import TraceState
from ._validate import SourceRecord, Validator
from ._windows import WindowAggregator, WindowState
from ._windows import merge as merge_windows

__all__ = [
    "BUILTIN_DETECTORS",
    "AnomalyScorer",
    "Assembler",
    "AssemblyOutput",
    "BaselineState",
    "BatchOutput",
    "Detector",
    "Finding",
    "IdMode",
    "Mode",
    "Pipeline",
    "PipelineMetrics",
    "PriceOverride",
    "Pricer",
    "Quote",
    "RedactionConfigError",
    "RedactionPolicy",
    "Redactor",
    "SecretRule",
    "SketchBins",
    "SourceRecord",
    "Stages",
    "TraceState",
    "Validator",
    "WindowAggregator",
    "WindowState",
    "merge_windows",
]
