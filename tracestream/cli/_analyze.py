"""``tracestream analyze``: performance, costs, quality, patterns and anomalies, and the
feedback reports (``--report tools|workflows|context|reasoning|examples``) that say what
to change."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from tracestream._settings import SettingsError, load_settings

__all__ = ["analyze"]

_SECTIONS = ("performance", "costs", "quality", "patterns", "anomalies")
#: The feedback reports (held equal to ``tracestream.sinks.FEEDBACK_REPORTS`` by a
#: test; listed here so ``--help`` needs no pipeline import).
_REPORTS = ("tools", "workflows", "context", "reasoning", "examples")


@click.command()
@click.option("--since", help="Range ending now (or at --to): 90s, 15m, 1h, 7d, 2w. Default 24h.")
@click.option("--from", "start", type=click.DateTime(), help="Range start (UTC unless an offset).")
@click.option("--to", "end", type=click.DateTime(), help="Range end, exclusive (default: now).")
@click.option("--project", help="Only this project.")
@click.option("--service", help="Only this service.")
@click.option("--model", help="Only this model.")
@click.option("--where", help="Extra SQL predicate over span columns, e.g. \"has(tags, 'beta')\".")
@click.option(
    "--section",
    "sections",
    multiple=True,
    type=click.Choice(_SECTIONS),
    help="Only these sections (repeatable). Default: all.",
)
@click.option(
    "--report",
    "reports",
    multiple=True,
    type=click.Choice(_REPORTS),
    help="Feedback reports (repeatable): what to change. Alone, only these are shown; "
    "with --section, both. Their filters choose traces: a trace with a matching span "
    "is read whole.",
)
@click.option(
    "--low-score",
    type=float,
    default=0.5,
    show_default=True,
    help="Reports: a trace whose mean score is below this scored low (a bad trace).",
)
@click.option(
    "--good-score",
    type=float,
    default=0.8,
    show_default=True,
    help="Examples: a good case scored at least this.",
)
@click.option(
    "--write-examples",
    "examples_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the examples report's cases here, for `tracestream export --selection`.",
)
@click.option("--top", "top_n", type=click.IntRange(1, 1000), help="Rows per ranking.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--html", "html_path", type=click.Path(dir_okay=False, path_type=Path), help="Write HTML here."
)
def analyze(
    since: str | None,
    start: datetime | None,
    end: datetime | None,
    project: str | None,
    service: str | None,
    model: str | None,
    where: str | None,
    sections: tuple[str, ...],
    reports: tuple[str, ...],
    low_score: float,
    good_score: float,
    examples_path: Path | None,
    top_n: int | None,
    as_json: bool,
    html_path: Path | None,
) -> None:
    """Answer what is slow, what costs, what fails and what is unusual, for a time range.

    With --report: which tool to fix, which step to cut, which context to drop,
    which cases to keep as examples; each finding names example trace ids.
    """
    from tracestream._query_target import open_for_reading
    from tracestream.sinks import (
        AnalysisReport,
        AnalysisScope,
        FeedbackOptions,
        StorageError,
        feedback,
        report_json,
        report_renderables,
        resolve_range,
        write_selection,
    )
    from tracestream.sinks import analyze as run_analysis

    if examples_path is not None and "examples" not in reports:
        reports = (*reports, "examples")

    try:
        begin, stop = resolve_range(since=since, start=start, end=end, now=datetime.now(UTC))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    try:
        settings = load_settings()
        scope = AnalysisScope(
            begin,
            stop,
            project=project,
            service=service,
            model=model,
            where=where,
            top_n=top_n or settings.analyze_top_n,
        )
        options = FeedbackOptions(low_score=low_score, good_score=good_score)
        with open_for_reading(settings) as storage:
            # --report alone shows only the reports; the default report keeps
            # its sections when no --report is given or --section is too.
            report = (
                run_analysis(storage, scope, sections=sections or None)
                if sections or not reports
                else AnalysisReport(scope)
            )
            if reports:
                report = feedback(storage, scope, reports, options=options, into=report)
    except (StorageError, SettingsError) as exc:
        raise click.ClickException(str(exc)) from None
    if html_path is not None:
        from tracestream.sinks import report_html

        html_path.write_text(report_html(report), encoding="utf-8")
    note = ""
    if examples_path is not None:
        written = write_selection(report, examples_path)
        note = (
            f"{written} example cases written to {examples_path}; export them with "
            f"`tracestream export --format examples --selection {examples_path}`"
        )
    if as_json:
        click.echo(report_json(report))
        if note:
            click.echo(note, err=True)
        return
    from tracestream.sinks import terminal_console

    console = terminal_console()
    for renderable in report_renderables(report):
        console.print(renderable)
    if html_path is not None:
        console.print(f"HTML report written to {html_path}", style="dim")
    if note:
        console.print(note, style="dim")
