"""tracestream.broker: Kafka tooling — a real local broker, and the topics of a deployment.

This folder is also ``deploy/kafka``: the Maven ``pom.xml`` that names the
Apache Kafka jars and ``kafka.sh`` ship beside the code as package data, so an
installed wheel can fetch and start the same broker a checkout does.

- :func:`fetch`, :func:`format_storage`, :func:`start`, :func:`stop`,
  :func:`status`: one KRaft broker+controller on loopback, from Maven Central,
  with its jars, config, data and logs under a :class:`Layout`'s cache
  directory (the front passes its ``cache_dir`` setting: never site-packages).
- :func:`ensure_topics`, :func:`delete_topics_with_prefix`, :func:`wait_until_led`:
  topic administration, used against any cluster (the worker and sink create
  their topics at start).
"""

from ._errors import KafkaLocalError
from ._local import (
    EXIT_NOT_RUNNING,
    BrokerStatus,
    Layout,
    fetch,
    format_storage,
    start,
    status,
    stop,
)
from ._probe import broker_ready, first_server
from ._topics import delete_topics_with_prefix, ensure_topics, wait_until_led

__all__ = [
    "EXIT_NOT_RUNNING",
    "BrokerStatus",
    "KafkaLocalError",
    "Layout",
    "broker_ready",
    "delete_topics_with_prefix",
    "ensure_topics",
    "fetch",
    "first_server",
    "format_storage",
    "start",
    "status",
    "stop",
    "wait_until_led",
]
