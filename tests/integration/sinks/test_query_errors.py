"""Errors of the SQL itself, on the real engine: StorageQueryError, never retriable."""

from __future__ import annotations

import pytest

from tracestream.sinks import ChdbStorage, StorageQueryError

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("sql", "params", "code"),
    [
        ("SELEC 1", None, 62),
        ("SELECT nope", None, 47),
        ("SELECT sum(sum(1))", None, 184),
        ("SELECT * FROM missing_table", None, 60),
        ("SELECT no_such_function(1)", None, 46),
        ("SELECT {n:UInt8}", {"n": "abc"}, 457),
    ],
)
def test_query_errors_are_not_retriable(
    chdb_storage: ChdbStorage, sql: str, params: dict[str, str] | None, code: int
) -> None:
    with pytest.raises(StorageQueryError) as info:
        chdb_storage.query(sql, params)
    assert info.value.retriable is False
    assert info.value.code == code
