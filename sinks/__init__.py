"""tracestream.sinks: ClickHouse storage (embedded chDB or a server), DDL, the Kafka sink."""

from ._chdb import ChdbStorage
from ._clickhouse_server import ServerStorage
from ._errors import (
    MigrationError,
    StorageError,
    StorageQueryError,
    StorageRejected,
    StorageUnavailable,
)
from ._metrics import SinkMetrics
from ._migrate import Migration, apply_migrations, load_migrations, split_statements
from ._open import chdb_path, make_storage
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
from ._sql import INSERT_SETTINGS
from ._storage import QueryResult, Storage
from ._writer import DeadLetter, KafkaRow, write_block

__all__ = [
    "INSERT_SETTINGS",
    "TABLE_MAPPINGS",
    "ChdbStorage",
    "DeadLetter",
    "KafkaRow",
    "MappedBatch",
    "Migration",
    "MigrationError",
    "QueryResult",
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
    "apply_migrations",
    "chdb_path",
    "load_migrations",
    "make_storage",
    "map_records",
    "record_json",
    "sample_span_records",
    "split_statements",
    "write_block",
]
