"""Query parameters of every type reach chDB intact, as they would a server."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from tracestream.sinks import ChdbStorage

pytestmark = pytest.mark.integration

AWKWARD = "it's a tab\there, a backslash \\ and a\nnewline"


def test_parameters_of_every_type_round_trip(chdb_storage: ChdbStorage) -> None:
    row = chdb_storage.query(
        "SELECT {s:String}, {a:Array(String)}, {t:DateTime64(6, 'UTC')}, {n:UInt64}, {b:Bool},"
        " {f:Float64}, {aa:Array(Array(UInt8))}",
        {
            "s": AWKWARD,
            "a": ["plain", AWKWARD, "quote'd"],
            "t": datetime(2026, 11, 24, 7, 30, 0, 123456, tzinfo=UTC),
            "n": 2**40,
            "b": True,
            "f": 0.25,
            "aa": [[1, 2], []],
        },
    ).rows[0]
    assert row[0] == AWKWARD
    assert row[1] == ["plain", AWKWARD, "quote'd"]
    assert row[2] == datetime(2026, 11, 24, 7, 30, 0, 123456, tzinfo=UTC)
    assert row[3:6] == (2**40, True, 0.25)
    assert row[6] == [[1, 2], []]


def test_in_array_parameter_filters_rows(chdb_storage: ChdbStorage) -> None:
    got = chdb_storage.query(
        "SELECT number FROM numbers(10) WHERE toString(number) IN {ids:Array(String)} ORDER BY number",
        {"ids": ["3", "7", "42"]},
    ).rows
    assert got == [(3,), (7,)]


def test_analyst_queries_get_datetimes_not_epoch_seconds(chdb_storage: ChdbStorage) -> None:
    from tracestream.sinks._readonly import run_readonly
    from tracestream.sinks._sql import result_from_arrow

    result = result_from_arrow(
        run_readonly(
            chdb_storage,
            "SELECT toStartOfHour(toDateTime('2026-11-24 07:45:00', 'UTC')) AS hour,"
            " toDate('2026-11-24') AS day, toUInt32(7) AS n",
        )
    )
    assert result.rows == [(datetime(2026, 11, 24, 7, 0, tzinfo=UTC), date(2026, 11, 24), 7)]
