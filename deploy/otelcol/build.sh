#!/usr/bin/env bash
# Build a minimal OpenTelemetry Collector (OTLP receiver -> no-op exporter) for
# `tracestream bench otlp`: modules from the Go module proxy, pinned to one
# collector release; the binary goes to .cache/otelcol/ (git-ignored).
#
#   deploy/otelcol/build.sh            # prints the binary's path
#   OTELCOL_VERSION=v0.165.0 deploy/otelcol/build.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
version="${OTELCOL_VERSION:-v0.165.0}"
out="${OTELCOL_OUT:-$root/.cache/otelcol}"
binary="$out/otelcol-tracestream-$version"
if [[ -x "$binary" && "$binary" -nt "$here/main.go" && "$binary" -nt "$here/go.mod" ]]; then
  echo "$binary"
  exit 0
fi
command -v go >/dev/null || { echo "build.sh: go is not installed" >&2; exit 1; }
work="$out/src-$version"
rm -rf "$work"
mkdir -p "$work"
cp "$here/main.go" "$here/go.mod" "$work/"
cd "$work"
# The stable modules (component, confmap, ...) carry v1.x versions: `go get` of
# the collector release's own modules at $version pulls the matching ones.
go get "go.opentelemetry.io/collector/confmap/provider/envprovider" >&2
go get \
  "go.opentelemetry.io/collector/otelcol@$version" \
  "go.opentelemetry.io/collector/receiver/otlpreceiver@$version" \
  "go.opentelemetry.io/collector/exporter/nopexporter@$version" >&2
go mod tidy >&2
CGO_ENABLED=0 go build -trimpath -o "$binary.tmp" . >&2
mv "$binary.tmp" "$binary"
echo "$binary"
