"""Read-only SQL for analysts: one statement, no writes, clear errors.

``tracestream query`` and the embedded query server run SQL typed by a person.
Two guards, both enforced by ClickHouse itself rather than by our parsing:

1. **One statement.** chDB executes ``SELECT 1; DROP TABLE spans`` as two
   statements (a server over HTTP refuses it). ClickHouse's own parser,
   through ``formatQuerySingleLine``, rejects multi-statements and returns the
   query normalised to one line without comments, which is what we then run
   (so a trailing ``-- comment`` cannot swallow the settings we append).
2. **readonly = 2** on the query: reads and setting changes are allowed
   (``SETTINGS max_threads = 4`` works), writes, DDL and changing ``readonly``
   are refused by the engine with code 164.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from ._errors import StorageError, StorageRejected
from ._sql import TRANSIENT_CODES
from ._storage import SettingValue, Storage

__all__ = ["READONLY_SETTINGS", "normalize_readonly_sql", "run_readonly"]

#: Appended to every analyst query. readonly=2 rather than 1 so the query may
#: still tune itself (max_threads, ...) while writes stay impossible.
READONLY_SETTINGS: dict[str, SettingValue] = {"readonly": 2}


_FORMAT_RE = re.compile(r"\bFORMAT\s+[A-Za-z0-9_]+\s*(SETTINGS\b.*)?$")


def normalize_readonly_sql(storage: Storage, sql: str) -> str:
    """Check that ``sql`` is one statement and return it normalised to one line.

    Blocks on the engine (one cheap parse query). Runs under ``readonly``
    itself, so it can be called on any storage, including the query server's
    client.

    Raises:
        StorageRejected: empty SQL, a syntax error, more than one statement, or
            a ``FORMAT`` clause (the output format is the caller's choice).
        StorageUnavailable: the engine could not be reached.
    """
    text = sql.strip().rstrip(";").strip()
    if not text:
        raise StorageRejected("empty query")
    try:
        # A string literal, not a {q:String} parameter: parameter values are
        # parsed in escaped (TSV) form and stop at the first newline.
        literal = "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
        normalized = storage.query(
            f"SELECT formatQuerySingleLine({literal})", settings=READONLY_SETTINGS
        ).scalar()
    except StorageRejected:
        raise
    except Exception as exc:
        # The engine answers a syntax error in the *argument* with code 62,
        # which the storage layer classifies as retriable; it is not.
        message = str(exc)
        if "Code: 62" in message or "SYNTAX_ERROR" in message:
            raise StorageRejected(_syntax_message(message), code=62) from None
        raise
    if not isinstance(normalized, str):
        raise StorageRejected("the engine could not parse the query")
    if _FORMAT_RE.search(normalized):
        raise StorageRejected(
            "remove the FORMAT clause: choose the output with --format table|json|csv"
        )
    return normalized


def _syntax_message(message: str) -> str:
    # "query: Code: 62. DB::Exception: Syntax error ...: In scope SELECT formatQuery..."
    start = message.find("Syntax error")
    text = message[start:] if start >= 0 else message
    text = text.split(": In scope SELECT formatQuerySingleLine", 1)[0]
    return text.split(" (version ", 1)[0].strip()


def run_readonly(storage: Storage, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
    """Run one analyst statement read-only and return its result as Arrow.

    Blocks on the engine. Raises:
        StorageRejected: the query is bad or tries to write (the message is the
            engine's, without its version suffix).
        StorageUnavailable: the engine is down or overloaded.
    """
    normalized = normalize_readonly_sql(storage, sql)
    try:
        table = storage.query_arrow(normalized, params, settings=READONLY_SETTINGS)
        if any(pa.types.is_uint32(t) or pa.types.is_uint16(t) for t in table.schema.types):
            table = _restore_dates(storage, normalized, params, table)
        return table
    except StorageRejected:
        raise
    except StorageError as exc:
        # Any coded error outside TRANSIENT_CODES is about the query itself
        # (unknown table, bad type, readonly).
        if exc.code is not None and exc.code not in TRANSIENT_CODES:
            raise StorageRejected(
                _clean(str(exc)), code=exc.code, code_name=exc.code_name
            ) from None
        raise


def _restore_dates(
    storage: Storage, sql: str, params: Mapping[str, Any] | None, table: pa.Table
) -> pa.Table:
    """Turn DateTime/Date columns back into timestamps and dates.

    ClickHouse's Arrow output writes DateTime as UInt32 seconds and Date as
    UInt16 days (DateTime64 alone becomes a timestamp), so an analyst's
    ``toStartOfHour(...)`` would print as a number. The result types come from
    ``DESCRIBE`` of the same statement, asked only when such a column exists.
    """
    described = storage.query(f"DESCRIBE ({sql})", params, settings=READONLY_SETTINGS)
    types = [str(row[1]) for row in described.rows]
    if len(types) != table.num_columns:
        return table
    columns = []
    for column, ch_type in zip(table.columns, types, strict=True):
        base = ch_type.removeprefix("Nullable(").removeprefix("LowCardinality(")
        if pa.types.is_uint32(column.type) and base.startswith("DateTime"):
            column = column.cast(pa.int64()).cast(pa.timestamp("s", tz="UTC"))
        elif pa.types.is_uint16(column.type) and base.startswith("Date"):
            column = column.cast(pa.int32()).cast(pa.date32())
        columns.append(column)
    return pa.Table.from_arrays(columns, names=table.column_names)


def _clean(message: str) -> str:
    text = message.removeprefix("query: ")
    while text.count("DB::Exception: ") > 1:  # chDB repeats the prefix
        text = text.replace("Code: 164. DB::Exception: ", "", 1)
    return re.sub(r" \(version [^)]*\)", "", text).strip()
