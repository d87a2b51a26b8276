"""The benchmarks behind the README's numbers: not product code, not in the wheel.

Run them from a source checkout with ``tracestream bench <name>``. Each one
prints a JSON report whose speed figures are ratios against a baseline measured
in the same run (the machines we run on are shared and noisy).

To add a benchmark: a module here with a ``click.Command``, and a line in
``BENCHES``.
"""

from __future__ import annotations

__all__ = ["BENCHES"]

#: name -> "module:attribute" of the ``click.Command`` that runs it.
BENCHES: dict[str, str] = {
    "analyze": "benchmarks.analyze_cli:analyze",
    "core": "benchmarks.core:core",
    "e2e": "benchmarks.e2e:bench_e2e",
    "otlp": "benchmarks.otlp:otlp",
    "pipeline": "benchmarks.pipeline_cli:pipeline",
    "redact": "benchmarks.redact:bench_redact",
    "sdk": "benchmarks.sdk:sdk",
    "sink": "benchmarks.sink:bench_sink",
    "ui": "benchmarks.ui:bench_ui",
}
