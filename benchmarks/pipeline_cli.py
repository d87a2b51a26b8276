"""``tracestream bench pipeline``."""

from __future__ import annotations

import click
import orjson

from tracestream._settings import load_settings

__all__ = ["pipeline"]


@click.command()
@click.option("--events", type=int, default=200_000, show_default=True, help="Records to push.")
@click.option("--partitions", type=int, default=6, show_default=True)
@click.option("--batch-size", type=int, default=2000, show_default=True)
@click.option(
    "--engine",
    type=click.Choice(["faust", "aiokafka"]),
    default=None,
    help="Worker runtime to measure (default: the worker_engine setting).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def pipeline(
    events: int, partitions: int, batch_size: int, engine: str | None, as_json: bool
) -> None:
    """Events/s through one worker process vs a bare aiokafka loop, on the real broker."""
    from benchmarks.pipeline import run_pipeline_bench

    settings = load_settings()
    report = run_pipeline_bench(
        settings.kafka_bootstrap,
        events=events,
        partitions=partitions,
        batch_size=batch_size,
        engine=engine or settings.worker_engine,
    )
    if as_json:
        click.echo(orjson.dumps(report).decode())
    else:
        for key, value in report.items():
            click.echo(f"{key}: {value}")
