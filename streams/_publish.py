"""What both worker runtimes do with a batch's output: keys, bytes and metrics.

Runtime-neutral helpers shared by the Faust adapter (``_app.py``) and the plain
aiokafka loop (``_kafka_runtime.py``), so the two publish identical records.
"""

from __future__ import annotations

import logging

from pydantic import BaseModel

from tracestream.schemas import AnomalyRecord, MetricWindow

from ._anomaly import METRICS
from ._json import model_json
from ._metrics import PipelineMetrics
from ._pipeline import BatchOutput

__all__ = ["dump_record", "note_publish_failure", "observe_published", "window_key"]

_log = logging.getLogger(__name__)


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


def note_publish_failure(
    metrics: PipelineMetrics, exc: BaseException, records: int, retry_in_s: float
) -> None:
    """Count and log a failed publish of a batch that is about to be sent again."""
    metrics.publish_failures.labels(type(exc).__name__).inc()
    _log.warning(
        "publishing a batch of %d records failed (%s: %s); sending it again in %.1fs",
        records,
        type(exc).__name__,
        exc,
        retry_in_s,
    )
