"""Shared SQL decisions and the migration file parser.

The server engine's requests are tested on the real engine in
``tests/integration/sinks/test_server_requests.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
import pyarrow as pa
import pytest

from tracestream.sinks import (
    INSERT_SETTINGS,
    TABLE_MAPPINGS,
    KafkaRow,
    RetentionPolicy,
    StorageQueryError,
    StorageRejected,
    StorageUnavailable,
    load_migrations,
    sample_span_records,
    split_statements,
    write_block,
)
from tracestream.sinks._sql import (
    _DATA_ERROR_CODES,
    _QUERY_ERROR_CODES,
    TRANSIENT_CODES,
    classify_error,
    result_from_arrow,
)

pytestmark = pytest.mark.unit


def test_insert_settings_are_synchronous_and_dedup_through_views() -> None:
    assert INSERT_SETTINGS["async_insert"] == 0
    assert INSERT_SETTINGS["deduplicate_blocks_in_dependent_materialized_views"] == 1


@pytest.mark.parametrize(
    ("message", "kind", "code"),
    [
        ("Code: 469. DB::Exception: Constraint `x` violated", StorageRejected, 469),
        ("Code: 72. DB::Exception: Cannot parse number", StorageRejected, 72),
        ("Code: 252. DB::Exception: Too many parts", StorageUnavailable, 252),
        ("Code: 60. DB::Exception: Unknown table", StorageQueryError, 60),
        ("Code: 62. DB::Exception: Syntax error: failed at position 8", StorageQueryError, 62),
        ("Code: 47. DB::Exception: Unknown expression identifier `x`", StorageQueryError, 47),
        ("Code: 184. DB::Exception: Aggregate function inside another", StorageQueryError, 184),
        ("Code: 457. DB::Exception: Value abc cannot be parsed as UInt8", StorageQueryError, 457),
        ("Code: 43. DB::Exception: Illegal type String of argument", StorageQueryError, 43),
        ("Code: 46. DB::Exception: Unknown function nope", StorageQueryError, 46),
        ("Code: 241. DB::Exception: Memory limit exceeded", StorageUnavailable, 241),
        (
            "Code: 243. DB::Exception: Cannot reserve 1.00 MiB, not enough space",
            StorageUnavailable,
            243,
        ),
        ("Code: 202. DB::Exception: Too many simultaneous queries", StorageUnavailable, 202),
        ("Code: 159. DB::Exception: Timeout exceeded: elapsed 30 s", StorageUnavailable, 159),
        ("Code: 173. DB::Exception: Cannot allocate memory", StorageUnavailable, 173),
        ("Code: 242. DB::Exception: Table is in readonly mode", StorageUnavailable, 242),
        ("Code: 75. DB::Exception: Cannot write to file, errno: 28", StorageUnavailable, 75),
        ("Code: 319. DB::Exception: Unknown status of insert", StorageUnavailable, 319),
        ("Code: 999. Coordination::Exception: Connection loss", StorageUnavailable, 999),
        ("Code: 1001. DB::Exception: std::exception (STD_EXCEPTION)", StorageUnavailable, 1001),
        ("Code: 701. DB::Exception: Requested cluster 'prod' not found", StorageQueryError, 701),
        ("Code: 139. DB::Exception: No macro 'shard' in config", StorageQueryError, 139),
        ("connection refused", StorageUnavailable, None),
    ],
)
def test_classify_error(message: str, kind: type, code: int | None) -> None:
    err = classify_error(RuntimeError(message), context="insert")
    assert type(err) is kind
    assert err.code == code
    assert err.retriable is (kind is StorageUnavailable)
    # Bad SQL is a StorageRejected (not retriable), but a distinct type the sink does not split on.
    assert isinstance(err, StorageRejected) is (kind is not StorageUnavailable)


def test_transient_codes_are_neither_data_nor_statement_errors() -> None:
    """A code in two lists would be decided by the order of the checks, not by a fact."""
    assert not set(TRANSIENT_CODES) & _DATA_ERROR_CODES
    assert not set(TRANSIENT_CODES) & _QUERY_ERROR_CODES
    # The codes an engine under load or out of disk answers an insert with.
    assert {252, 241, 243, 202, 159} <= set(TRANSIENT_CODES)


@pytest.mark.parametrize(
    ("message", "name"),
    [
        # chDB: the name ends the message.
        (
            "Code: 252. DB::Exception: Too many parts (4 with average size of 28.23 KiB) in "
            "table 'tracestream.spans (551010c5)'. Merges are processing significantly slower "
            "than inserts. (TOO_MANY_PARTS)",
            "TOO_MANY_PARTS",
        ),
        # A server: the version follows the name; an earlier "(SETTING)" is not a name.
        (
            "Code: 62. DB::Exception: Syntax error: failed at position 97 (SETTING): x. "
            "(SYNTAX_ERROR) (version 26.9.1.1)",
            "SYNTAX_ERROR",
        ),
        # A server's message through clickhouse-connect: the name ends the code's line.
        (
            "HTTPDriver for http://ch:8123/?query=INSERT received ClickHouse error code 164\n"
            " Code: 164. DB::Exception: default: Cannot execute query in readonly mode. "
            "(READONLY) (version 26.9.1.1 (official build))\n",
            "READONLY",
        ),
        # Cut before its end: an earlier parenthesis is not taken for the name.
        ("Code: 6. DB::Exception: Cannot parse input (EXPECTED_COMMA) at row 1, column", None),
        # A known transient code is named even when its message was cut before the name.
        (
            "Code: 243. DB::Exception: Could not perform insert. None of the disks",
            "NOT_ENOUGH_SPACE",
        ),
        ("Code: 6. DB::Exception: Cannot parse input", None),
        ("connection refused (ECONNREFUSED)", None),
    ],
)
def test_classify_error_names_the_code(message: str, name: str | None) -> None:
    assert classify_error(RuntimeError(message), context="insert").code_name == name


def test_classify_error_uses_the_code_attribute_first() -> None:
    exc = RuntimeError("no code in this text")
    exc.code = 62  # type: ignore[attr-defined]
    assert type(classify_error(exc, context="query")) is StorageQueryError


async def test_writer_does_not_split_a_block_on_a_query_error() -> None:
    """A missing table fails every row: it must propagate, not dead-letter the whole block."""
    calls: list[str] = []
    letters: list[object] = []

    async def insert(table: str, batch: object, token: str) -> None:
        calls.append(token)
        raise StorageQueryError("Code: 60. Unknown table", code=60)

    async def dead_letter(rows: Sequence[object]) -> None:
        letters.extend(rows)

    rows = [
        KafkaRow("t.spans", 0, i, orjson.dumps(r))
        for i, r in enumerate(sample_span_records(4, seed=3))
    ]
    with pytest.raises(StorageQueryError):
        await write_block(rows, TABLE_MAPPINGS["spans"], RetentionPolicy(), insert, dead_letter)
    assert calls == ["t.spans:0:0-3"]
    assert letters == []


def test_split_statements_drops_comment_lines() -> None:
    sql = "-- a; comment;\nCREATE TABLE a (x UInt8)\nENGINE = Log;\n\n-- b\nSELECT 1;\nSELECT 2"
    assert split_statements(sql) == [
        "CREATE TABLE a (x UInt8)\nENGINE = Log",
        "SELECT 1",
        "SELECT 2",
    ]


def test_packaged_migrations_are_ordered() -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == sorted(m.version for m in migrations)
    assert migrations[0].name == "tables"
    assert all(len(m.checksum) == 64 for m in migrations)


def test_result_from_arrow_turns_maps_into_dicts() -> None:
    table = pa.table({"m": pa.array([[("k", "v")]], pa.map_(pa.string(), pa.string())), "n": [1]})
    result = result_from_arrow(table)
    assert result.rows == [({"k": "v"}, 1)]
    assert result.dicts() == [{"m": {"k": "v"}, "n": 1}]
