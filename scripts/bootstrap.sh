#!/usr/bin/env bash
# Installs everything tracestream needs on a fresh machine; safe to re-run.
#   - a virtualenv in .venv with the package and its [dev] extras (skipped when
#     pyproject.toml has not changed since the last install)
#   - the Apache Kafka jars from Maven Central (deploy/kafka/kafka.sh fetch)
#   - Debian's prometheus package (server + promtool) for the alert tests
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
step() { printf '\033[1m==> %s\033[0m\n' "$*"; }

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "tracestream needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
  exit 2
fi

if [ ! -x .venv/bin/python ]; then
  step "creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.tracestream-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  step "installing tracestream[dev] into .venv (first run downloads ~300 MB of wheels)"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[dev]'
  echo "$want" > "$stamp"
else
  step "python packages up to date"
fi

step "fetching Apache Kafka from Maven Central (cached)"
deploy/kafka/kafka.sh fetch

if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  step "installing Debian's prometheus package (server + promtool)"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  # The package may start a system daemon on :9090; our tests run their own server.
  if command -v service >/dev/null 2>&1; then $sudo_cmd service prometheus stop >/dev/null 2>&1 || true; fi
  pkill -x prometheus 2>/dev/null || true
else
  step "prometheus and promtool present"
fi

# The explorer's browser tests (tests/e2e/test_ui_browser.py) drive Debian's
# chromium through Playwright; Playwright's own browser download is never used.
if ! command -v chromium >/dev/null 2>&1; then
  step "installing Debian's chromium (headless browser tests of the trace explorer)"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends chromium >/dev/null
else
  step "chromium present"
fi
