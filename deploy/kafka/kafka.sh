#!/usr/bin/env bash
# Local Apache Kafka broker (KRaft, broker+controller in one JVM) from Maven Central.
#
#   deploy/kafka/kafka.sh fetch|format|start|stop|status|topics|ready [--timeout S]
#
# Thin wrapper: the one implementation is deploy/kafka/_local.py, driven by
# `python -m tracestream.cli._kafka` (what `tracestream kafka` runs). Settings come
# from the environment (TRACESTREAM_KAFKA_BOOTSTRAP, TRACESTREAM_KAFKA_VERSION,
# TRACESTREAM_KAFKA_HEAP_MB, TRACESTREAM_TOPIC_PREFIX, TRACESTREAM_CACHE_DIR, ...)
# or tracestream.toml. Jars, data and logs live under the cache_dir setting; in a
# checkout this script defaults it to <repo>/.cache, as the Makefile does.
# Installed from a wheel (beside the tracestream.broker package) it runs
# $TRACESTREAM_PYTHON, else python3, with the user's defaults (docs/configuration.md).
# Exit codes: 0 ok, 1 error, 3 not running (status, ready).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [[ -f "$repo/pyproject.toml" && -d "$repo/tracestream" ]]; then
  export TRACESTREAM_CACHE_DIR="${TRACESTREAM_CACHE_DIR:-$repo/.cache}"
  export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
  py="${TRACESTREAM_PYTHON:-$repo/.venv/bin/python}"
  [[ -x "$py" ]] || py="$(command -v python3)"
else
  py="${TRACESTREAM_PYTHON:-python3}"
fi
exec "$py" -m tracestream.cli._kafka "$@"
