"""tracestream.sinks: ClickHouse storage (embedded chDB or a server), DDL, the Kafka sink."""

from ._chdb import ChdbStorage
from ._clickhouse_server import ServerStorage
from ._errors import MigrationError, StorageError, StorageRejected, StorageUnavailable
from ._migrate import Migration, apply_migrations, load_migrations, split_statements
from ._open import chdb_path, make_storage
from ._sql import INSERT_SETTINGS
from ._storage import QueryResult, Storage

__all__ = [
    "INSERT_SETTINGS",
    "ChdbStorage",
    "Migration",
    "MigrationError",
    "QueryResult",
    "ServerStorage",
    "Storage",
    "StorageError",
    "StorageRejected",
    "StorageUnavailable",
    "apply_migrations",
    "chdb_path",
    "load_migrations",
    "make_storage",
    "split_statements",
]
