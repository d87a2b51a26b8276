#!/usr/bin/env bash
# Local Apache Kafka broker (KRaft, broker+controller in one JVM) from Maven Central.
#
#   deploy/kafka/kafka.sh fetch|format|start|stop|status|topics|ready [--timeout S]
#
# Thin wrapper: the one implementation is tracestream/_kafka_local.py
# (`python -m tracestream.cli._kafka`). Settings come from the environment
# (TRACESTREAM_KAFKA_BOOTSTRAP, TRACESTREAM_KAFKA_VERSION, TRACESTREAM_KAFKA_HEAP_MB,
# TRACESTREAM_TOPIC_PREFIX, TRACESTREAM_TOPIC_PARTITIONS, ...) or tracestream.toml;
# jars, data and logs live under $TRACESTREAM_CACHE_DIR (default <repo>/.cache).
# Exit codes: 0 ok, 1 error, 3 not running (status, ready).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
py="${TRACESTREAM_PYTHON:-$repo/.venv/bin/python}"
[[ -x "$py" ]] || py="$(command -v python3)"
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
exec "$py" -m tracestream.cli._kafka "$@"
