"""What both engines share: insert settings, error classification, result decoding.

Only the transport differs between chDB and a server; everything an engine
decides about SQL lives here so the two cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from ._errors import StorageError, StorageQueryError, StorageRejected, StorageUnavailable
from ._storage import QueryResult, SettingValue

__all__ = [
    "INSERT_SETTINGS",
    "MEMORY_CODES",
    "TRANSIENT_CODES",
    "classify_error",
    "insert_settings",
    "out_of_memory",
    "quote_identifier",
    "result_from_arrow",
]

#: Settings on every insert of ours.
INSERT_SETTINGS: dict[str, SettingValue] = {
    # ClickHouse 26.x turns async_insert on by default. Our batches are already
    # large (>= 1,000 rows) and we commit Kafka offsets on the acknowledgement,
    # so the insert must be synchronous: acknowledged == in a part on disk.
    "async_insert": 0,
    # A deduplicated block must not reach the hourly rollup views either, or a
    # replay would double the rollups while the base table stays exact.
    "deduplicate_blocks_in_dependent_materialized_views": 1,
    # Our dedup tokens identify the whole batch; keep it one block so the token
    # covers it (the default 1,048,449 rows is bigger than any batch we send).
    "max_insert_block_size": 1_048_576,
    "min_insert_block_size_rows": 0,
    "min_insert_block_size_bytes": 0,
    # The text (inverted) indexes are built when a part is first merged, not
    # on insert: they were ~10% of a span insert's CPU (100k spans: 1.35 ->
    # 1.22 s). Until then a search reads those fresh parts whole; they are
    # the newest few inserts (<= batch_max_rows rows each), merged within
    # minutes. Bloom filters on ids stay on insert: opening a trace that
    # just arrived is the common lookup.
    "exclude_materialize_skip_indexes_on_insert": "idx_input,idx_output,idx_error",
    # Rows of one block that share a sorting key (two versions of a span in
    # one batch) are replaced at the part's first merge, not on insert: the
    # insert-time pass through the replacing algorithm copied every column
    # and was a quarter of a span insert's CPU (100k spans: 1.09 -> 0.82 s).
    # Exact reads use FINAL (as they must anyway for rows in different
    # parts); a plain SELECT may see both versions until the merge.
    "optimize_on_insert": 0,
}

#: ClickHouse error codes, with their names, that mean "the engine cannot do
#: this now": the same statement may succeed later (after merges catch up,
#: memory or disk is freed, a replica is back). An insert failing this way is
#: held and retried, never split or dead-lettered; a read failing this way is
#: "try again", not "your query is wrong" (:mod:`._readonly`). Codes outside
#: every list are treated the same way on inserts (waiting keeps the data);
#: this list names the ones we know, so a read and a write agree on them and a
#: test keeps them apart from the data and statement codes.
TRANSIENT_CODES: Mapping[int, str] = {
    75: "CANNOT_WRITE_TO_FILE_DESCRIPTOR",  # a full disk mid-write (errno 28)
    159: "TIMEOUT_EXCEEDED",
    160: "TOO_SLOW",
    173: "CANNOT_ALLOCATE_MEMORY",
    202: "TOO_MANY_SIMULTANEOUS_QUERIES",
    203: "NO_FREE_CONNECTION",
    209: "SOCKET_TIMEOUT",
    210: "NETWORK_ERROR",
    236: "ABORTED",
    241: "MEMORY_LIMIT_EXCEEDED",
    242: "TABLE_IS_READ_ONLY",  # a replica that lost Keeper
    243: "NOT_ENOUGH_SPACE",  # also min_free_disk_bytes_to_perform_insert
    252: "TOO_MANY_PARTS",  # merges behind inserts; parts_to_throw_insert
    285: "TOO_FEW_LIVE_REPLICAS",
    286: "UNSATISFIED_QUORUM_FOR_PREVIOUS_WRITE",
    319: "UNKNOWN_STATUS_OF_INSERT",  # the dedup token makes the retry safe
    394: "QUERY_WAS_CANCELLED",
    425: "SYSTEM_ERROR",
    439: "CANNOT_SCHEDULE_TASK",  # thread pool full
    999: "KEEPER_EXCEPTION",
}
#: The transient codes of an engine out of memory for this statement. A block
#: whose insert fails this way may fit in halves (a large batch after a backlog,
#: a server's ``max_memory_usage``): the sink's writer splits it, instead of
#: retrying the same too-large insert for ever, but dead-letters nothing.
MEMORY_CODES = frozenset({173, 241})
assert MEMORY_CODES <= TRANSIENT_CODES.keys()
#: chDB reports a memory limit met while reading a Python() source under its
#: generic code for a Python-side failure.
_PY_EXCEPTION = 800


def out_of_memory(exc: StorageError) -> bool:
    """Whether the engine refused the statement for want of memory (see MEMORY_CODES)."""
    if exc.code in MEMORY_CODES:
        return True
    return exc.code == _PY_EXCEPTION and "memory limit exceeded" in str(exc).lower()


# ClickHouse error codes that mean "the data is bad": splitting the batch can
# isolate the rows at fault. Errors of the SQL itself are _QUERY_ERROR_CODES
# below. Everything else (TRANSIENT_CODES, and codes we do not know) is
# treated as retriable: waiting keeps the data.
_DATA_ERROR_CODES = frozenset(
    {
        6,  # CANNOT_PARSE_TEXT
        395,  # FUNCTION_THROW_IF_VALUE_IS_NON_ZERO (our mapping checks, see _raw_sql)
        27,  # CANNOT_PARSE_INPUT_ASSERTION_FAILED
        38,  # CANNOT_PARSE_DATE
        41,  # CANNOT_PARSE_DATETIME
        53,  # TYPE_MISMATCH
        69,  # ARGUMENT_OUT_OF_BOUND
        70,  # CANNOT_CONVERT_TYPE
        72,  # CANNOT_PARSE_NUMBER
        117,  # INCORRECT_DATA
        131,  # TOO_LARGE_STRING_SIZE
        190,  # SIZES_OF_ARRAYS_DONT_MATCH
        321,  # VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
        349,  # CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
        469,  # VIOLATED_CONSTRAINT
    }
)
# ClickHouse error codes that mean "the statement itself is wrong": retrying the
# same SQL can never succeed, and no row is at fault (StorageQueryError).
_QUERY_ERROR_CODES = frozenset(
    {
        10,  # NOT_FOUND_COLUMN_IN_BLOCK
        16,  # NO_SUCH_COLUMN_IN_TABLE
        36,  # BAD_ARGUMENTS
        42,  # NUMBER_OF_ARGUMENTS_DOESNT_MATCH
        43,  # ILLEGAL_TYPE_OF_ARGUMENT
        44,  # ILLEGAL_COLUMN
        46,  # UNKNOWN_FUNCTION
        47,  # UNKNOWN_IDENTIFIER
        50,  # UNKNOWN_TYPE
        60,  # UNKNOWN_TABLE
        62,  # SYNTAX_ERROR
        73,  # UNKNOWN_FORMAT
        80,  # INCORRECT_QUERY
        81,  # UNKNOWN_DATABASE
        115,  # UNKNOWN_SETTING
        179,  # MULTIPLE_EXPRESSIONS_FOR_ALIAS
        184,  # ILLEGAL_AGGREGATION
        215,  # NOT_AN_AGGREGATE
        352,  # AMBIGUOUS_COLUMN_NAME
        386,  # NO_COMMON_TYPE
        456,  # UNKNOWN_QUERY_PARAMETER
        457,  # BAD_QUERY_PARAMETER
        # A deployment that names a cluster or a macro the servers do not define
        # (`migrate --cluster`): waiting cannot fix it, the operator must.
        139,  # NO_ELEMENTS_IN_CONFIG (an undefined {shard} / {replica} macro)
        701,  # CLUSTER_DOESNT_EXIST
    }
)
_CODE_RE = re.compile(r"Code:\s*(\d+)")
_NAME_RE = re.compile(r"\(([A-Z][A-Z0-9_]+)\)(?: \(version .*\))?\.?$")
_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def insert_settings(
    dedup_token: str | None, extra: Mapping[str, SettingValue] | None
) -> dict[str, SettingValue]:
    """The settings of one insert: ours, the caller's, and the dedup token."""
    settings = dict(INSERT_SETTINGS)
    if extra:
        settings.update(extra)
    if dedup_token is not None:
        settings["insert_deduplication_token"] = dedup_token
    return settings


def quote_identifier(name: str) -> str:
    """Backquote a table, column or database name; rejects anything unusual."""
    if not _IDENT_RE.match(name):
        raise StorageRejected(f"not a plain identifier: {name!r}")
    return f"`{name}`"


def classify_error(exc: BaseException, *, context: str) -> StorageError:
    """Classify an engine's exception: bad SQL, bad data, or retriable.

    :class:`StorageQueryError` (a StorageRejected) for errors of the statement
    itself, :class:`StorageRejected` for bad data, else
    :class:`StorageUnavailable` (unknown errors wait rather than lose data).
    """
    if isinstance(exc, StorageError):
        return exc
    message = str(exc)
    code: int | None = getattr(exc, "code", None)
    if not isinstance(code, int):
        match = _CODE_RE.search(message)
        code = int(match.group(1)) if match else None
    text = f"{context}: {message.strip()[:2000]}"
    name = _code_name(code, message)
    if code in TRANSIENT_CODES:
        return StorageUnavailable(text, code=code, code_name=name)
    if code in _QUERY_ERROR_CODES:
        return StorageQueryError(text, code=code, code_name=name)
    if code in _DATA_ERROR_CODES or isinstance(exc, pa.ArrowInvalid | pa.ArrowTypeError):
        return StorageRejected(text, code=code, code_name=name)
    return StorageUnavailable(text, code=code, code_name=name)


def _code_name(code: int | None, message: str) -> str | None:
    """The error code's name: ClickHouse ends the line of ``Code: N.`` with it,
    ``... (TOO_MANY_PARTS)``, a server with `` (version ...)`` after it; a
    message cut before its end names nothing (unless the code is a known one)."""
    if code is None:
        return None
    if code in TRANSIENT_CODES:
        return TRANSIENT_CODES[code]
    found = _CODE_RE.search(message)
    line = message[found.start() if found else 0 :].strip().split("\n", 1)[0]
    named = _NAME_RE.search(line)
    return named.group(1) if named else None


def result_from_arrow(table: pa.Table) -> QueryResult:
    """Decode an Arrow result into Python rows, the same way for both engines.

    Maps become dicts (Arrow yields lists of pairs); everything else is what
    ``pyarrow`` gives: datetimes are timezone-aware, decimals are Decimals.
    """
    names = tuple(table.column_names)
    columns: list[list[Any]] = []
    for column in table.columns:
        values = column.to_pylist()
        if pa.types.is_map(column.type):
            values = [dict(v) if v is not None else None for v in values]
        columns.append(values)
    rows = list(zip(*columns, strict=True)) if columns else []
    return QueryResult(names, rows)


def _literal(value: Any) -> str:
    """A value as a ClickHouse literal, as it appears inside an array parameter."""
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if value is None:
        return "NULL"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_literal(v) for v in value) + "]"
    return "'" + _param_text(value) + "'" if isinstance(value, datetime) else _param_text(value)


_ESCAPED = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0"})


def _param_text(value: Any) -> str:
    if isinstance(value, str):
        # Top-level parameters are read in ClickHouse's escaped (TSV) format.
        return value.translate(_ESCAPED)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        naive: datetime = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
        return naive.isoformat(sep=" ")
    if isinstance(value, list | tuple):
        return _literal(value)
    return str(value)


def param_texts(params: Mapping[str, Any]) -> dict[str, str]:
    """Query parameters as the text ClickHouse parses for ``{name:Type}``.

    chDB hands parameters to the engine as text, the way a server receives
    ``param_<name>`` over HTTP; clickhouse-connect does this formatting itself.
    Formatting here keeps one SQL text valid on both engines (arrays,
    booleans and datetimes included).
    """
    return {name: _param_text(value) for name, value in params.items()}
