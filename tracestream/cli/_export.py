"""``tracestream export``: traces -> chat-format JSONL or an example suite."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
import orjson

from tracestream._settings import SettingsError, load_settings

__all__ = ["export"]


def _min_score(values: tuple[str, ...]) -> tuple[tuple[str, float], ...]:
    out = []
    for item in values:
        name, sep, number = item.partition(">=")
        try:
            out.append((name.strip(), float(number)))
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise click.BadParameter(f"{item!r} is not name>=number", param_hint="--min-score")
    return tuple(out)


@click.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["chat", "examples"]),
    default="chat",
    show_default=True,
    help="chat: fine-tuning JSONL; examples: an example suite.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here (default: stdout).",
)
@click.option("--since", help="Range ending now (or at --to): 15m, 1h, 7d. Default 24h.")
@click.option("--from", "start", type=click.DateTime(), help="Range start (UTC).")
@click.option("--to", "end", type=click.DateTime(), help="Range end, exclusive (UTC).")
@click.option("--project", help="Only this project.")
@click.option("--status", "statuses", multiple=True, help="Trace status (repeatable), e.g. ok.")
@click.option("--model", "models", multiple=True, help="Traces that used this model (repeatable).")
@click.option("--tag", "tags", multiple=True, help="Traces carrying this tag (repeatable: all).")
@click.option(
    "--min-score",
    "min_scores",
    multiple=True,
    help="name>=value: the trace's mean score of that name (repeatable).",
)
@click.option("--limit", default=10_000, show_default=True, help="At most this many traces.")
@click.option(
    "--selection",
    "selection_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Only the traces of this examples selection (`analyze --write-examples`); "
    "its time range and project unless given here. Adds metadata.label.",
)
def export(
    fmt: str,
    output: Path | None,
    since: str | None,
    start: datetime | None,
    end: datetime | None,
    project: str | None,
    statuses: tuple[str, ...],
    models: tuple[str, ...],
    tags: tuple[str, ...],
    min_scores: tuple[str, ...],
    limit: int,
    selection_path: Path | None,
) -> None:
    """Export chosen (redacted) traces as a dataset, one JSON object per line."""
    from tracestream._query_target import open_for_reading
    from tracestream.sinks import (
        ExportFilter,
        StorageError,
        chat_records,
        example_records,
        read_selection,
        resolve_range,
        select_traces,
    )

    labels: dict[str, str] = {}
    if selection_path is not None:
        try:
            selection = read_selection(selection_path)
        except (ValueError, OSError) as exc:
            raise click.BadParameter(str(exc), param_hint="--selection") from None
        labels = {c["trace_id"]: str(c.get("label", "")) for c in selection["cases"]}
        chosen = selection.get("scope") or {}
        # The selection's own range and project, unless the command line says otherwise.
        if since is None and start is None and chosen.get("from"):
            start = datetime.fromisoformat(chosen["from"].replace("Z", "+00:00"))
            end = end or datetime.fromisoformat(chosen["to"].replace("Z", "+00:00"))
        project = project or chosen.get("project")
    try:
        begin, stop = resolve_range(since=since, start=start, end=end, now=datetime.now(UTC))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    flt = ExportFilter(
        begin,
        stop,
        project,
        statuses,
        models,
        tags,
        _min_score(min_scores),
        limit,
        trace_ids=tuple(labels),
    )
    if selection_path is not None and not labels:
        raise click.ClickException(f"{selection_path} selects no traces")
    try:
        settings = load_settings()
        with open_for_reading(settings) as storage:
            traces = select_traces(storage, flt)
            records = list(
                chat_records(storage, traces) if fmt == "chat" else example_records(traces, labels)
            )
    except (StorageError, SettingsError) as exc:
        raise click.ClickException(str(exc)) from None
    text = b"".join(orjson.dumps(r, default=str) + b"\n" for r in records)
    if output is None:
        click.echo(text.decode(), nl=False)
    else:
        output.write_bytes(text)
        click.echo(f"{len(records)} records written to {output}", err=True)
