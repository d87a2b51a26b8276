"""The server engine's migrations and inserts, as sent over HTTP, run on the real engine.

No ClickHouse server runs here; the recording endpoint (:mod:`._clickhouse_http`)
keeps the exact requests clickhouse-connect sends and executes them on chDB
(26.9, the embedded engine's version). Each test checks that the engine
accepted what the server path sent and stored what the embedded path stores
for the same records.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.integration.sinks._known_data import T2
from tests.integration.ui._ui_data import T5, T6, T7, sid
from tracestream.sinks import (
    FEEDBACK_REPORTS,
    INSERT_SETTINGS,
    TABLE_MAPPINGS,
    AnalysisReport,
    AnalysisScope,
    ChdbStorage,
    ExportFilter,
    RetentionPolicy,
    ServerStorage,
    Storage,
    StorageQueryError,
    StorageRejected,
    StorageUnavailable,
    analyze,
    chat_records,
    example_records,
    examples_selection,
    feedback,
    map_records,
    result_from_arrow,
    run_readonly,
    sample_span_records,
    select_traces,
)
from tracestream.ui import ListQuery, Reader, TraceQuery

from ._clickhouse_http import RecordedRequest
from ._server_pair import EnginePair, open_pair

pytestmark = pytest.mark.integration

_TABLES = sorted({m.table for m in TABLE_MAPPINGS.values()} | {"spans_hourly", "schema_migrations"})


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EnginePair]:
    with open_pair(tmp_path_factory.mktemp("server-requests")) as engines:
        yield engines


def _schema(storage: ChdbStorage, database: str) -> dict[str, Any]:
    """Tables and columns of a database as the engine describes them."""
    tables = storage.query(
        "SELECT name, engine, replace(engine_full, {db:String}, 'DB'), sorting_key,"
        " primary_key, partition_key, replace(as_select, {db:String}, 'DB')"
        " FROM system.tables WHERE database = {db:String} ORDER BY name",
        {"db": database},
    ).rows
    columns = storage.query(
        "SELECT table, name, position, type, default_kind, default_expression,"
        " compression_codec, comment FROM system.columns WHERE database = {db:String}"
        " ORDER BY table, position",
        {"db": database},
    ).rows
    indexes = storage.query(
        "SELECT table, name, type_full, expr, granularity FROM system.data_skipping_indices"
        " WHERE database = {db:String} ORDER BY table, name",
        {"db": database},
    ).rows
    return {"tables": tables, "columns": columns, "indexes": indexes}


def test_migrations_sent_over_http_build_the_embedded_schema(pair: EnginePair) -> None:
    requests = pair.migration_requests
    assert [r for r in requests if r.status != 200] == []
    sent = [r.statement for r in requests]
    # Every statement of every migration file went out as written, in order.
    statements = [" ".join(s.split()) for m in pair.migrations for s in m.statements()]
    assert [s for s in statements if s not in sent] == [], sent
    positions = [sent.index(s) for s in statements]
    assert positions == sorted(positions)
    ddl = [r for r in requests if r.statement in statements]
    assert all(r.params["database"] == "tracestream_server" and r.data is None for r in ddl)

    embedded = _schema(pair.embedded, "tracestream")
    assert embedded["tables"], "the embedded engine has no tables"
    assert _schema(pair.embedded, "tracestream_server") == embedded
    versions = "SELECT version, name, checksum FROM {db:Identifier}.schema_migrations ORDER BY 1"
    assert pair.embedded.query(versions, {"db": "tracestream_server"}).rows == (
        pair.embedded.query(versions, {"db": "tracestream"}).rows
    )


def _stored(storage: ChdbStorage, database: str, table: str) -> list[str]:
    """Every stored row (every version, no FINAL) of a table, but clock-filled columns.

    Rows are compared as their reprs: an empty quantile is NaN, unequal to itself.
    """
    columns = storage.query(
        "SELECT name, startsWith(type, 'AggregateFunction') FROM system.columns"
        " WHERE database = {db:String} AND table = {t:String}"
        " AND NOT match(default_expression, '(?i)now') ORDER BY position",
        {"db": database, "t": table},
    ).rows
    # An aggregate state comes out of Arrow as engine memory, not as its value.
    names = ", ".join(f"finalizeAggregation(`{c}`)" if state else f"`{c}`" for c, state in columns)
    return sorted(map(repr, storage.query(f"SELECT {names} FROM `{database}`.`{table}`").rows))


@pytest.mark.parametrize("table", _TABLES)
def test_every_insert_path_stores_what_the_embedded_engine_stores(
    pair: EnginePair, table: str
) -> None:
    embedded = _stored(pair.embedded, "tracestream", table)
    assert embedded, f"nothing was written to {table}"
    assert _stored(pair.embedded, "tracestream_server", table) == embedded


def test_inserts_carry_our_settings_and_tokens_and_the_engine_took_them(pair: EnginePair) -> None:
    inserts = [r for r in pair.write_requests if r.data is not None]
    raw = [r for r in inserts if "input(" in r.sql]
    mapped = [r for r in inserts if "input(" not in r.sql]
    assert raw and mapped
    # The sink's raw spans: the mapping SELECT over the body, read as an Arrow stream.
    assert all(r.statement.endswith("FORMAT ArrowStream") for r in raw)
    assert all(r.data is not None and r.data[:4] == b"\xff\xff\xff\xff" for r in raw)
    # Mapped columns: clickhouse-connect's Arrow file.
    assert all(r.statement.endswith("FORMAT Arrow") for r in mapped)
    assert all(r.data is not None and r.data[:6] == b"ARROW1" for r in mapped)
    expected = {k: str(int(v) if isinstance(v, bool) else v) for k, v in INSERT_SETTINGS.items()}
    for r in inserts:
        assert {k: r.settings.get(k) for k in expected} == expected, r.sql
        assert r.settings["insert_deduplication_token"].startswith("t.")
    for r in raw:
        assert {
            "retention_projects",
            "retention_days",
            "retention_default",
        } <= r.query_params.keys()
    # What the engine refused was refused for the poison rows only (constraint, throwIf).
    refused = [r for r in inserts if r.status != 200]
    assert refused and all(
        r.error is not None and ("469" in r.error or "395" in r.error) for r in refused
    )


def test_poison_rows_dead_letter_alike(pair: EnginePair) -> None:
    def summary(letters: list[Any]) -> list[tuple[Any, ...]]:
        return sorted(
            (letter.row.topic, letter.row.partition, letter.row.offset, letter.stage, letter.table)
            for letter in letters
        )

    assert summary(pair.server_letters) == summary(pair.embedded_letters)
    stages = {letter.stage for letter in pair.server_letters}
    assert stages == {"map", "insert"}, stages


def test_engine_errors_come_back_classified(pair: EnginePair) -> None:
    server = pair.server
    with pytest.raises(StorageQueryError) as unknown:
        server.query("SELECT * FROM no_such_table")
    assert unknown.value.code == 60
    with pytest.raises(StorageRejected) as thrown:
        server.query("SELECT throwIf(number = 0, 'poison') FROM numbers(1)")
    assert thrown.value.code == 395 and not thrown.value.retriable
    records = sample_span_records(3, seed=7)
    records[1]["trace_id"] = "z" * 32
    batch = map_records(TABLE_MAPPINGS["spans"], records, RetentionPolicy()).table
    before = pair.server.query("SELECT count() FROM spans").scalar()
    with pytest.raises(StorageRejected) as violated:
        server.insert("spans", batch)
    assert violated.value.code == 469 and not violated.value.retriable
    last: RecordedRequest = pair.endpoint.requests[-1]
    assert (last.status, last.params["query"]) == (500, last.sql)
    assert last.sql.startswith("INSERT INTO `tracestream_server`.`spans`")
    assert pair.server.query("SELECT count() FROM spans").scalar() == before


def test_a_closed_server_storage_refuses_calls(pair: EnginePair) -> None:
    pair.endpoint.clear()
    storage = ServerStorage(pair.endpoint.url, "tracestream_server")
    storage.open()
    # Opening creates the database before any statement names it as the default.
    created = [r for r in pair.endpoint.requests if r.statement.startswith("CREATE DATABASE")]
    assert [(r.statement, "database" in r.params) for r in created] == [
        ("CREATE DATABASE IF NOT EXISTS `tracestream_server`", False)
    ]
    assert storage.query("SELECT count() FROM spans FINAL").scalar() > 0
    storage.close()
    with pytest.raises(StorageUnavailable):
        storage.query("SELECT 1")


def test_an_unreachable_server_is_retriable_and_hides_the_password() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port now: the connection is refused.
    storage = ServerStorage(f"http://u:secret@127.0.0.1:{port}")
    with pytest.raises(StorageUnavailable) as info:
        storage.open()
    assert info.value.retriable
    assert "secret" not in str(info.value)


# --- Every read the product makes: the same answers through HTTP as embedded ---

_DAY = AnalysisScope(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC))
_SHOP = replace(_DAY, project="shop", where="kind = 'generation'", top_n=3)


def _report_tables(report: AnalysisReport) -> dict[str, tuple[Any, ...]]:
    return {k: (t.column_names, t.rows) for k, t in report.tables.items()}


def _analyze(storage: Storage) -> object:
    return [_report_tables(analyze(storage, scope)) for scope in (_DAY, _SHOP)]


def _feedback(storage: Storage) -> object:
    report = feedback(storage, _DAY, tuple(FEEDBACK_REPORTS))
    return _report_tables(report), examples_selection(report)


def _export(storage: Storage) -> object:
    flt = ExportFilter(_DAY.start, _DAY.end, statuses=("ok", "error"), min_scores=())
    traces = select_traces(storage, flt)
    shop = select_traces(storage, replace(flt, project="shop", models=("gpt-4o",)))
    return traces, shop, list(chat_records(storage, traces)), list(example_records(traces))


def _query(storage: Storage) -> object:
    sql = (
        "SELECT project, model, count() AS spans, sum(cost_usd) AS cost, max(end_time) AS last"
        " FROM spans FINAL WHERE start_time >= {since:DateTime64(6)} GROUP BY ALL ORDER BY ALL"
    )
    table = run_readonly(storage, sql, {"since": _DAY.start})
    return result_from_arrow(table).rows, table.schema


def _ui(storage: Storage) -> object:
    reader = Reader(storage)
    window = ListQuery(_DAY.start, _DAY.end)
    shop = ListQuery(_DAY.start, _DAY.end, filters={"project": "shop"}, limit=5)
    return {
        "traces": reader.traces(TraceQuery(_DAY.start, _DAY.end, limit=4, offset=1)),
        "sorted": reader.traces(TraceQuery(_DAY.start, _DAY.end, sort="cost_usd", order="asc")),
        "searched": reader.traces(TraceQuery(_DAY.start, _DAY.end, search=("parcel",))),
        "facets": reader.facets(_DAY.start, _DAY.end),
        "trace": reader.trace(T2),
        "turn": reader.trace(T5),
        "big": reader.trace(T6),
        "running": reader.trace(T7),
        "span": reader.span(T5, sid(0xB5, 2)),
        "tenant": reader.trace_tenant(T5),
        "search": reader.search_spans(("parcel",), window),
        "tail": reader.tail(start=_DAY.start, after=_DAY.start, filters={}),
        "errors": reader.tail(start=_DAY.start, after=_DAY.start, filters={"has_errors": True}),
        "sessions": reader.sessions(window),
        "session": reader.session("s-5", window),
        "user": reader.session("u-2", window, by_user=True),
        "overview": reader.overview(window),
        "overview_shop": reader.overview(shop),
        "anomalies": reader.anomalies(window),
    }


_READS: dict[str, Callable[[Storage], object]] = {
    "analyze": _analyze,
    "feedback": _feedback,
    "export": _export,
    "query": _query,
    "ui": _ui,
}


#: Answers empty by the data set's design: the running trace has no trace row
#: yet, and no score or anomaly names the explorer's own traces.
_EMPTY_BY_DESIGN = {
    "ui": {
        "/running/trace",
        "/running/scores",
        "/running/anomalies",
        "/turn/scores",
        "/turn/anomalies",
        "/big/scores",
        "/big/anomalies",
        "/span/scores",
    }
}


def _empty_parts(value: object, path: str = "") -> list[str]:
    """Where ``value`` holds an empty answer: an empty list, dict or table, or None."""
    if value is None or (isinstance(value, list | dict) and not value):
        return [path or "(all)"]
    if isinstance(value, dict) and path.count("/") < 2:
        return [p for k, v in value.items() for p in _empty_parts(v, f"{path}/{k}")]
    if isinstance(value, tuple | list) and path.count("/") < 2:
        return [p for i, v in enumerate(value) for p in _empty_parts(v, f"{path}/{i}")]
    return []


@pytest.mark.parametrize("read", sorted(_READS))
def test_every_product_read_answers_the_same_over_http(pair: EnginePair, read: str) -> None:
    pair.endpoint.clear()
    embedded = _READS[read](pair.embedded)
    assert pair.endpoint.requests == []
    served = _READS[read](pair.server)
    requests = pair.endpoint.requests
    assert requests, "the server engine sent nothing"
    assert [(r.statement, r.error) for r in requests if r.status != 200] == []
    assert {r.format for r in requests} == {"Arrow"}
    assert repr(served) == repr(embedded)
    empty = set(_empty_parts(embedded)) - _EMPTY_BY_DESIGN.get(read, set())
    assert empty == set(), "empty answers prove little"
    if read in {"feedback", "query", "ui"}:
        # The product's read-only guard travels as a setting the engine enforces.
        assert all(r.settings.get("readonly") == "2" for r in requests)
