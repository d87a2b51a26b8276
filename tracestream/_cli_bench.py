"""``tracestream bench``: benchmarks that print JSON reports.

Each subcommand is registered in ``_BENCHES`` (name -> "module:attribute")
and imported only when run.
"""

from __future__ import annotations

import importlib

import click

__all__ = ["bench"]

_BENCHES: dict[str, str] = {
    "analyze": "tracestream._cli_bench_analyze:analyze",
    "core": "tracestream._bench_core:core",
    "pipeline": "tracestream._cli_bench_pipeline:pipeline",
    "sdk": "tracestream._bench_sdk:sdk",
    "redact": "tracestream._cli_redact:bench_redact",
    "sink": "tracestream._cli_sink:bench_sink",
}


class _LazyBench(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_BENCHES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _BENCHES.get(cmd_name)
        if target is None:
            return None
        module_name, _, attr = target.partition(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=_LazyBench)
def bench() -> None:
    """Measure throughput; each benchmark prints one JSON report."""
