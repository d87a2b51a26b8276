"""What both worker runtimes do with a batch's output: keys, bytes and metrics.

Runtime-neutral helpers shared by the Faust adapter (``_app.py``) and the plain
aiokafka loop (``_kafka_runtime.py``), so the two publish identical records.
"""

from __future__ import annotations

from pydantic import BaseModel

from tracestream.schemas import AnomalyRecord, MetricWindow

from ._anomaly import METRICS
from ._json import model_json
from ._metrics import PipelineMetrics
from ._pipeline import BatchOutput

__all__ = ["dump_record", "observe_published", "window_key"]


def window_key(record: MetricWindow | AnomalyRecord) -> bytes:
    """The Kafka key of a window or anomaly: its metric key, so one key stays on one partition."""
    return f"{record.project}|{record.service}|{record.model}|{record.kind}|{record.name}".encode()


def dump_record(record: BaseModel) -> bytes:
    """A record's JSON bytes."""
    return model_json(record)


def observe_published(metrics: PipelineMetrics, out: BatchOutput) -> None:
    """Update the metrics for a batch whose output the broker acknowledged."""
    metrics.observe_spans(out.spans)
    for trace in out.traces:
        metrics.observe_trace(trace)
    if out.windows:
        metrics.windows_closed.inc(len(out.windows))
        # A closed window that is not anomalous clears its label set's flag;
        # anomalies of the same batch set it again below.
        for w in out.windows:
            for metric in METRICS:
                metrics.observe_clear(w.service, w.model or None, metric)
    for anomaly in out.anomalies:
        metrics.observe_anomaly(anomaly)
