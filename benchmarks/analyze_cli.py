"""``tracestream bench analyze``: analyze and feedback-report timings on N generated spans
(JSON report), each feedback report also as a ratio to a same-run floor scan."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import click

__all__ = ["analyze"]


@click.command()
@click.option("--spans", "count", default=10_000_000, show_default=True, help="Spans to generate.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Reuse this chDB directory (generated once; default: a temporary one).",
)
@click.option("--repeat", default=3, show_default=True, help="Report runs; the best is reported.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON only (the default output).")
def analyze(count: int, data_dir: Path | None, repeat: int, as_json: bool) -> None:
    """Generate spans in chDB and time `analyze` and each `analyze --report` on fresh parts
    and after OPTIMIZE FINAL, with a plain scan of the reports' columns as the floor."""
    from benchmarks.analyze import bench_analyze, time_analyze, time_feedback
    from tracestream.sinks import ChdbStorage, apply_migrations

    with tempfile.TemporaryDirectory(prefix="ts-bench-analyze-") as tmp:
        storage = ChdbStorage(data_dir or Path(tmp) / "chdb", "tracestream")
        storage.open()
        try:
            apply_migrations(storage)
            have = storage.query("SELECT count() FROM spans WHERE project = 'bench'").scalar()
            result: dict[str, object] = {"engine": "chdb"}
            if have != count:
                # Fresh parts first, then after OPTIMIZE FINAL: both are honest numbers.
                result.update(bench_analyze(storage, count, repeat=repeat))
            else:  # reused directory: whatever state its parts are in
                result["reused"] = time_analyze(storage, repeat=repeat)
                result["reused_feedback"] = time_feedback(storage, repeat=repeat)
        finally:
            storage.close()
    click.echo(json.dumps(result, indent=2))
