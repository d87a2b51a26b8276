"""The migrations rendered for a ClickHouse cluster (``tracestream migrate --cluster``).

The single-node migrations stay the one source of the schema; this module
rewrites each statement, pure text in and out:

- ``CREATE TABLE t (...) ENGINE = XMergeTree(args)`` becomes ``t_local``, the
  same columns, indexes, key, TTL and settings, ``ON CLUSTER``, with
  ``ReplicatedXMergeTree('/clickhouse/tables/{shard}/{database}/{table}',
  '{replica}', args)`` (the server's macros name each shard and replica), plus
  ``t`` as a ``Distributed`` table over ``t_local`` with the same columns
  (``AS t_local``). Readers and the sink keep using ``t``.
- The sharding key is deterministic on the row's identity (the trace for
  spans, traces and scores; the window's key for metrics and anomalies), so
  every version of a row lands on one shard and ``FINAL`` stays exact.
- A materialized view reads and writes the local tables: an insert through
  ``spans`` reaches ``spans_local`` on one shard, and that shard's view fills
  its ``spans_hourly_local``.
- ``ALTER TABLE t ADD COLUMN`` goes to ``t_local`` and to ``t`` (a Distributed
  table copied its columns when it was created); other ALTERs (settings) go to
  ``t_local`` only.
- ``non_replicated_deduplication_window`` is dropped: replicated tables
  deduplicate inserts through Keeper by default.

A statement of any other shape raises :class:`MigrationError`, so a new
migration cannot silently skip the cluster.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._errors import MigrationError
from ._sql import quote_identifier

if TYPE_CHECKING:
    from ._migrate import Migration

__all__ = ["CLUSTER_MIGRATIONS_TABLE", "ClusterLayout", "render_for_cluster"]

# Sharding keys: all versions of a row (same sorting key) must land on one shard.
_SHARDING_KEYS = {
    "spans": "cityHash64(trace_id)",
    "traces": "cityHash64(trace_id)",
    "scores": "cityHash64(trace_id)",
    "metrics_1m": "cityHash64(project, service, model, kind, name)",
    "anomalies": "cityHash64(project, service, model, kind, name)",
    "spans_hourly": "cityHash64(project, service, model, kind)",
}

_CREATE = re.compile(
    r"^CREATE TABLE IF NOT EXISTS (?P<name>\w+)\s*\n(?P<body>\(.*\))\s*\n"
    r"ENGINE = (?P<engine>\w*MergeTree)(?:\((?P<args>[^)]*)\))?(?P<rest>.*)$",
    re.S,
)
_VIEW = re.compile(
    r"^CREATE MATERIALIZED VIEW IF NOT EXISTS (?P<name>\w+) TO (?P<target>\w+) AS\n"
    r"(?P<select>.*\nFROM (?P<source>\w+)\n.*)$",
    re.S,
)
_ALTER = re.compile(r"^ALTER TABLE (?P<name>\w+) (?P<action>.*)$", re.S)
_DEDUP_SETTING = re.compile(r"non_replicated_deduplication_window\s*=\s*\d+\s*(,\s*)?")

# The migration record, replicated to every node of the cluster (no {shard} in
# its path), so whichever node `migrate` reaches knows what was applied.
CLUSTER_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations ON CLUSTER {cluster}
(
    version     UInt32,
    name        String,
    checksum    String,
    applied_at  DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{{database}}/schema_migrations', '{{replica}}')
ORDER BY version
"""


@dataclass(frozen=True, slots=True)
class ClusterLayout:
    """Where the tables go.

    Args:
        cluster: the cluster's name in the servers' ``remote_servers``.
        local_suffix: appended to a table's name for its replicated shard table.
    """

    cluster: str
    local_suffix: str = "_local"

    def __post_init__(self) -> None:
        quote_identifier(self.cluster)
        if not re.fullmatch(r"[A-Za-z0-9_]+", self.local_suffix):
            raise ValueError(f"invalid local table suffix {self.local_suffix!r}")

    def local(self, table: str) -> str:
        return table + self.local_suffix

    def migrations_table(self) -> str:
        """The ``CREATE`` of the replicated migration record."""
        return CLUSTER_MIGRATIONS_TABLE.format(cluster=self.cluster)


def _render_create(match: re.Match[str], layout: ClusterLayout) -> list[str]:
    name, body, engine = match["name"], match["body"], match["engine"]
    args = (match["args"] or "").strip()
    if name not in _SHARDING_KEYS:
        raise MigrationError(
            f"table {name!r} has no sharding key for a cluster (sinks/_cluster.py)"
        )
    local = layout.local(name)
    replicated_args = "'/clickhouse/tables/{shard}/{database}/{table}', '{replica}'"
    if args:
        replicated_args += f", {args}"
    rest = _DEDUP_SETTING.sub("", match["rest"])
    rest = re.sub(r"\nSETTINGS\s*$", "", rest.rstrip()).rstrip().rstrip(",")
    on = f"ON CLUSTER {layout.cluster}"
    return [
        f"CREATE TABLE IF NOT EXISTS {local} {on}\n{body}\n"
        f"ENGINE = Replicated{engine}({replicated_args}){rest}",
        f"CREATE TABLE IF NOT EXISTS {name} {on} AS {local}\n"
        f"ENGINE = Distributed({layout.cluster}, currentDatabase(), {local},"
        f" {_SHARDING_KEYS[name]})",
    ]


def _render_statement(statement: str, layout: ClusterLayout) -> list[str]:
    on = f"ON CLUSTER {layout.cluster}"
    if (create := _CREATE.match(statement)) is not None:
        return _render_create(create, layout)
    if (view := _VIEW.match(statement)) is not None:
        select = view["select"].replace(
            f"\nFROM {view['source']}\n", f"\nFROM {layout.local(view['source'])}\n", 1
        )
        return [
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {view['name']} {on}"
            f" TO {layout.local(view['target'])} AS\n{select}"
        ]
    if (alter := _ALTER.match(statement)) is not None:
        name, action = alter["name"], alter["action"]
        rendered = [f"ALTER TABLE {layout.local(name)} {on} {action}"]
        if action.startswith("ADD COLUMN"):
            rendered.append(f"ALTER TABLE {name} {on} {action}")
        return rendered
    raise MigrationError(
        "no cluster rendering for statement (add one in sinks/_cluster.py): "
        + statement.splitlines()[0][:120]
    )


def render_for_cluster(migration: Migration, layout: ClusterLayout) -> list[str]:
    """The statements of ``migration`` for ``layout``'s cluster, in order. Pure.

    Raises:
        MigrationError: a statement has a shape this module cannot render.
    """
    out: list[str] = []
    for statement in migration.statements():
        out.extend(_render_statement(statement, layout))
    return out
