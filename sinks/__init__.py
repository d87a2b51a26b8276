"""tracestream.sinks: ClickHouse storage (embedded chDB or a server), DDL, the Kafka sink."""

from ._admin import ADMIN_STATEMENTS, run_admin
from ._analytics import AnalysisReport, AnalysisScope, analyze, parse_duration, resolve_range
from ._chdb import ChdbStorage
from ._clickhouse_server import ServerStorage
from ._errors import (
    MigrationError,
    StorageError,
    StorageQueryError,
    StorageRejected,
    StorageUnavailable,
)
from ._export import ExportFilter, chat_records, example_records, select_traces
from ._feedback import (
    FEEDBACK_REPORTS,
    FeedbackOptions,
    examples_selection,
    feedback,
    read_selection,
    write_selection,
)
from ._metrics import SinkMetrics
from ._migrate import Migration, apply_migrations, load_migrations, split_statements
from ._open import chdb_path, make_storage
from ._query_client import discover_query_server
from ._query_server import QueryServer, query_server_file
from ._readonly import run_readonly
from ._report_html import report_html
from ._report_render import report_json, report_renderables
from ._rows import (
    TABLE_MAPPINGS,
    MappedBatch,
    RetentionPolicy,
    TableMapping,
    map_records,
    record_json,
)
from ._sample import sample_span_records
from ._sink import Sink, SinkConfig
from ._sql import INSERT_SETTINGS, result_from_arrow
from ._storage import QueryResult, Storage
from ._tabular import result_csv, result_json, rich_table, terminal_console
from ._writer import DeadLetter, KafkaRow, write_block

__all__ = [
    "ADMIN_STATEMENTS",
    "FEEDBACK_REPORTS",
    "INSERT_SETTINGS",
    "TABLE_MAPPINGS",
    "AnalysisReport",
    "AnalysisScope",
    "ChdbStorage",
    "DeadLetter",
    "ExportFilter",
    "FeedbackOptions",
    "KafkaRow",
    "MappedBatch",
    "Migration",
    "MigrationError",
    "QueryResult",
    "QueryServer",
    "RetentionPolicy",
    "ServerStorage",
    "Sink",
    "SinkConfig",
    "SinkMetrics",
    "Storage",
    "StorageError",
    "StorageQueryError",
    "StorageRejected",
    "StorageUnavailable",
    "TableMapping",
    "analyze",
    "apply_migrations",
    "chat_records",
    "chdb_path",
    "discover_query_server",
    "example_records",
    "examples_selection",
    "feedback",
    "load_migrations",
    "make_storage",
    "map_records",
    "parse_duration",
    "query_server_file",
    "read_selection",
    "record_json",
    "report_html",
    "report_json",
    "report_renderables",
    "resolve_range",
    "result_csv",
    "result_from_arrow",
    "result_json",
    "rich_table",
    "run_admin",
    "run_readonly",
    "sample_span_records",
    "select_traces",
    "split_statements",
    "terminal_console",
    "write_block",
    "write_selection",
]
