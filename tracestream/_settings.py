"""The one settings object of tracestream.

Precedence, highest first: keyword arguments > environment variables
(``TRACESTREAM_<NAME>``) > TOML file > defaults. The TOML file is
``$TRACESTREAM_CONFIG`` if set, else ``./tracestream.toml`` if it exists; its
keys are the field names below, lower case, at top level.

Library code never reads this: it takes typed constructor arguments. Only the
edges (the CLI, ``tracestream.configure()``, the worker and sink entry points)
build a :class:`Settings` and pass its values on. ``docs/configuration.md`` is
generated from the field descriptions (``tracestream config --markdown``) and a
test keeps the two in step.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from tracestream.schemas import TracestreamError

__all__ = ["Settings", "SettingsError", "load_settings", "settings_markdown"]

ENV_PREFIX = "TRACESTREAM_"


class SettingsError(TracestreamError, ValueError):
    """A setting has a bad value. The message names the setting and the fix."""


def _config_file() -> Path | None:
    explicit = os.environ.get("TRACESTREAM_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise SettingsError(
                f"TRACESTREAM_CONFIG points at {path}, which is not a file. "
                "Fix: point it at a TOML file or unset it."
            )
        return path
    default = Path("tracestream.toml")
    return default if default.is_file() else None


def _user_dir(xdg_variable: str, fallback: str) -> Path:
    """``$<xdg_variable>/tracestream``, else ``~/<fallback>/tracestream`` (XDG base directories).

    Data and caches go to the user's directories, never beside the installed
    package (site-packages). A relative ``$XDG_*`` is ignored, as the XDG spec asks.
    """
    base = os.environ.get(xdg_variable, "")
    return (Path(base) if os.path.isabs(base) else Path.home() / fallback) / "tracestream"


def _default_home() -> Path:
    return _user_dir("XDG_DATA_HOME", ".local/share")


def _default_cache_dir(data: dict[str, Any]) -> Path:
    # A chosen home (TRACESTREAM_HOME, the file, an argument) holds the caches too,
    # so one variable moves everything tracestream writes.
    home = data.get("home")
    if home is not None and Path(home) != _default_home():
        return Path(home) / "cache"
    return _user_dir("XDG_CACHE_HOME", ".cache")


class RedactPattern(BaseModel):
    """One user detector in ``redact_extra_patterns``: the declarative form of a rule."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pattern: str
    validator: Literal["none", "random", "entropy", "luhn", "iban"] = "none"
    placeholder: str | None = None
    keywords: tuple[str, ...] = ()
    ignore_case: bool = False


class Settings(BaseSettings):
    """Every tunable of tracestream, with its unit in its name."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="forbid",
        case_sensitive=False,
        validate_default=True,
    )
    toml_path: ClassVar[Path | None] = None

    # --- identity (SDK) ---
    project: str = Field(
        "default", min_length=1, max_length=128, description="Tenant the events belong to."
    )
    service: str = Field(
        "unknown-service", min_length=1, max_length=128, description="Name of the emitting service."
    )
    environment: str = Field(
        "development",
        min_length=1,
        max_length=64,
        description="Deployment environment (production, staging, ...).",
    )

    # --- Kafka ---
    kafka_bootstrap: str = Field(
        "127.0.0.1:19092", description="Kafka bootstrap servers, comma-separated host:port."
    )
    topic_prefix: str = Field(
        "",
        max_length=100,
        pattern=r"^[A-Za-z0-9._-]*$",
        description="Prefix for every topic name, so deployments can share a cluster.",
    )
    topic_partitions: int = Field(
        6, ge=1, le=1024, description="Partitions for topics the project creates."
    )
    topic_replication_factor: int = Field(
        1, ge=1, le=16, description="Replication factor for topics the project creates."
    )
    events_retention_ms: int = Field(
        7 * 24 * 3600 * 1000,
        ge=-1,
        description="Retention of the raw events topic (the replay source); -1 keeps forever.",
    )

    # --- local broker (deploy/kafka) ---
    kafka_version: str = Field(
        "4.3.1",
        pattern=r"^\d+\.\d+\.\d+$",
        description="Apache Kafka version fetched from Maven Central for the local broker.",
    )
    kafka_heap_mb: int = Field(1024, ge=128, le=65536, description="Java heap of the local broker.")

    # --- event contract ---
    max_event_bytes: int = Field(
        1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="Largest accepted event, in bytes of UTF-8 JSON.",
    )
    max_nesting_depth: int = Field(
        32, ge=2, le=256, description="Deepest accepted nesting of JSON values inside an event."
    )

    # --- storage ---
    home: Path = Field(
        default_factory=_default_home,
        description=(
            "Data directory: the embedded engine (chDB), the query server's discovery "
            "file, the demo's worker and its log. `make` in a checkout sets `.tracestream/`."
        ),
        json_schema_extra={
            "default_shown": "$XDG_DATA_HOME/tracestream (~/.local/share/tracestream)"
        },
    )
    cache_dir: Path = Field(
        default_factory=_default_cache_dir,
        description=(
            "Downloads and scratch: the local Kafka broker's jars (Maven), config, data and "
            "logs (`tracestream kafka`). `make` and `deploy/kafka/kafka.sh` in a checkout set `.cache/`."
        ),
        json_schema_extra={
            "default_shown": "<home>/cache when home is not its default, else $XDG_CACHE_HOME/tracestream (~/.cache/tracestream)"
        },
    )
    clickhouse_url: str = Field(
        "",
        description="ClickHouse server URL (http://user:pass@host:8123/db). Empty: use the embedded chDB engine under `home`.",
    )
    clickhouse_database: str = Field(
        "tracestream",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Database holding the tracestream tables.",
    )
    retention_days: int = Field(
        90, ge=1, le=3650, description="Default TTL of stored rows, in days."
    )

    # --- sink (sinks/_sink.py: output topics -> ClickHouse) ---
    # Group commit (sinks/_flush.py): every table is written in one flush, as
    # soon as the consumer has caught up but at most every
    # sink_flush_min_interval_ms; under load batch_max_rows / batch_max_ms size
    # the batches, about one insert per second per table (ClickHouse's guidance).
    # Offsets are committed only after an insert is acknowledged; on storage
    # failure the sink stops consuming and retries.
    sink_group_id: str = Field(
        "tracestream-sink",
        min_length=1,
        description="Kafka consumer group of the sink. The topic prefix is prepended, as to every Kafka name.",
    )
    sink_batch_max_rows: int = Field(
        100_000,
        ge=1,
        le=1_000_000,
        description=(
            "Flush a table's batch at this many rows (also the dedup block alignment). "
            "Each insert costs ~0.1 s whatever its size, and ClickHouse wants about one "
            "insert per second per table: at 100k spans/s that is 100k-row batches."
        ),
    )
    sink_batch_max_ms: int = Field(
        1_000,
        ge=10,
        le=60_000,
        description=(
            "Flush when the oldest buffered row is this old, caught up or not "
            "(the cap on a row's wait while the sink is never caught up, i.e. under load)."
        ),
    )
    sink_flush_min_interval_ms: int = Field(
        500,
        ge=0,
        le=60_000,
        description=(
            "Once the sink has read every partition to its end, it flushes every table at "
            "once, but no sooner than this after its last flush: a lone row is stored at "
            "once, a steady stream at most this often (2 inserts/s per table by default; "
            "each insert has a fixed cost, ~40-90 ms of CPU on chDB). Freshness at the "
            "sink is about half of it plus the insert. A ClickHouse server with several "
            "sinks writing to it: 1000 keeps to its guidance of about one insert per "
            "second per table."
        ),
    )
    sink_retry_initial_ms: int = Field(
        200, ge=1, le=60_000, description="First backoff after a retriable storage error."
    )
    sink_retry_max_ms: int = Field(
        30_000, ge=10, le=600_000, description="Cap of the exponential backoff between retries."
    )
    sink_fetch_max_records: int = Field(
        20_000, ge=1, le=1_000_000, description="Most records taken from Kafka per poll."
    )
    sink_check_crcs: bool = Field(
        False,
        description=(
            "Verify the CRC32C of every fetched record batch. Off, as in librdkafka "
            "(ClickHouse's own Kafka engine): the broker checked it on produce, and on "
            "this machine the software CRC cost ~20% of the sink's fetch time. "
            "A record corrupted into invalid JSON still lands in the sink DLQ."
        ),
    )
    sink_project_retention_days: dict[str, int] = Field(
        {},  # pydantic copies the default per instance
        description="Per-project retention overrides in days (else `retention_days`).",
    )

    # --- worker ---
    worker_engine: Literal["faust", "aiokafka"] = Field(
        "aiokafka",
        description="Worker runtime: `aiokafka` (plain consumer/producer loop, compacted changelog topics `<app id>.trace-state`, `.window-state`, `.baseline-state`) or `faust` (faust-streaming agent and tables; its per-record stream machinery alone caps at ~8-16k events/s). Same outputs and at-least-once guarantees; their state topics differ, so open traces and windows do not carry over when switching.",
    )
    worker_app_id: str = Field(
        "tracestream-worker",
        pattern=r"^[A-Za-z0-9._-]+$",
        description="The worker's consumer group and application id (prefix of its changelog topics). The topic prefix is prepended, as to every Kafka name.",
    )
    group_instance_name: str = Field(
        "",
        max_length=100,
        pattern=r"^[A-Za-z0-9._-]*$",
        description="This worker's (aiokafka runtime; the Faust runtime joins as a dynamic member) or sink's static member name in its consumer group (Kafka static membership, KIP-345): a process restarted under the same name gets its partitions back at once instead of after the old session expires. Empty: `<hostname>-<n>`, n the lowest number no live process of the same group holds on this host (a lock file), so a restart on the same host takes the same name. Set it (e.g. a StatefulSet pod name) where a replacement runs on another host.",
    )
    worker_store: str = Field(
        "memory://",
        pattern=r"^memory://$",
        description="Faust table store. Only memory:// (state restored from the changelog on start): faust's RocksDB store asserts when the assembly timer writes outside an event, which crashed the worker.",
    )
    worker_web_host: str = Field(
        "127.0.0.1", description="Address the worker's web server (/metrics) binds to."
    )
    worker_web_port: int = Field(
        6066, ge=1, le=65535, description="Port of the worker's web server serving /metrics."
    )
    worker_batch_size: int = Field(
        2000, ge=1, le=100_000, description="Events the worker processes per batch."
    )
    worker_batch_within_ms: int = Field(
        200, ge=1, le=60_000, description="Longest wait for a batch to fill before processing it."
    )
    worker_session_timeout_ms: int = Field(
        10_000,
        ge=6_000,
        le=300_000,
        description="Consumer-group session timeout: how long the partitions of a worker that crashed and did not come back under its member name wait before the group reassigns them (a restart under the same name takes them at once).",
    )
    worker_gc_full_collect_s: float = Field(
        300.0,
        ge=0,
        le=86_400,
        description=(
            "The worker keeps its long-lived state out of the garbage collector's view "
            "(frozen after each batch) and runs a full collection this often; "
            "0 leaves CPython's collector as it is."
        ),
    )
    worker_tick_interval_ms: int = Field(
        1000,
        ge=10,
        le=60_000,
        description="How often the worker closes due traces and windows when no events arrive.",
    )
    metrics_services: tuple[str, ...] = Field(
        (),
        description="Services that get their own Prometheus label value; empty: the first `metrics_top_n` seen. Others are `other`.",
    )
    metrics_models: tuple[str, ...] = Field(
        (),
        description="Models that get their own Prometheus label value; empty: the first `metrics_top_n` seen. Others are `other`.",
    )
    metrics_top_n: int = Field(
        20,
        ge=1,
        le=1000,
        description="Distinct services/models labelled when there is no allow-list.",
    )

    # --- SDK (tracestream.producers; read only by tracestream.configure()) ---
    release: str = Field(
        "", max_length=256, description="Version of the emitting service, put on every trace."
    )
    sdk_enabled: bool = Field(True, description="False turns every SDK span into a no-op.")
    sdk_sample_rate: float = Field(
        1.0, ge=0.0, le=1.0, description="Fraction of traces recorded (head sampling by trace id)."
    )
    sdk_max_buffer_events: int = Field(
        100_000, ge=1, description="SDK send buffer bound, in events; when full, new events drop."
    )
    sdk_max_buffer_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, description="SDK send buffer bound, in bytes."
    )
    sdk_linger_ms: int = Field(
        5, ge=0, le=60_000, description="How long the SDK's Kafka producer waits to fill a batch."
    )
    sdk_batch_size_bytes: int = Field(
        256 * 1024, ge=1024, le=16 * 1024 * 1024, description="Kafka batch size per partition."
    )
    sdk_compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = Field(
        "lz4", description="Compression of the SDK's Kafka batches."
    )
    sdk_max_payload_bytes: int = Field(
        64 * 1024,
        ge=256,
        description="Cap per payload value (input, output, attribute); larger ones are truncated with a marker.",
    )
    sdk_request_timeout_ms: int = Field(
        30_000, ge=1000, description="How long a Kafka request of the SDK may wait for the broker."
    )
    sdk_shutdown_timeout_s: float = Field(
        5.0, ge=0.0, description="Budget of the SDK's flush at interpreter exit."
    )

    # --- redaction (streams/_redaction.py; the worker builds its policy with
    # tracestream._redaction_settings.redaction_policy) ---
    redact_enabled: bool = Field(
        True,
        description="Redact PII and secrets from spans and scores before anything stores them.",
    )
    # The default names no detector: "*" is expanded where the policy is built, from
    # the list in streams (the one source), which the bare SDK install does not import.
    redact_detectors: tuple[str, ...] = Field(
        ("*",),
        description="Built-in detectors to run, by name or glob; `*` = every built-in one (docs/redaction.md lists them; JSON list in env).",
    )
    redact_default_mode: Literal["mask", "hash", "drop"] = Field(
        "mask",
        description="mask: `<EMAIL>`; hash: keyed HMAC `<EMAIL:…>`, joinable; drop: remove the whole string.",
    )
    redact_modes: dict[str, Literal["mask", "hash", "drop"]] = Field(
        {},
        description='Mode per detector, overriding the default, e.g. {"email": "hash"} (JSON in env).',
    )
    redact_id_mode: Literal["auto", "mask", "hash", "drop"] = Field(
        "auto",
        description="Mode of every finding in user and session ids; auto: hash (joinable) when an HMAC key is set, else mask.",
    )
    redact_hmac_key: SecretStr | None = Field(
        None, description="Key of hash mode. Required when any detector hashes; prefer the file."
    )
    redact_hmac_key_file: Path | None = Field(
        None,
        description="File holding the hash-mode key (e.g. a mounted secret); wins over the key.",
    )
    redact_extra_patterns: dict[str, str | RedactPattern] = Field(
        {},
        description='Extra detectors, name -> regex (e.g. {"employee_id": "EMP-[0-9]{6}"}) or a table {pattern, validator: none/random/entropy/luhn/iban, placeholder (reported detector, e.g. "api_key"; default the name), keywords (literals that must occur), ignore_case} (docs/redaction.md; JSON in env).',
    )
    redact_deny_list: tuple[str, ...] = Field(
        (), description="Literals always redacted (whole word, any case) as detector `deny_list`."
    )
    redact_attributes: tuple[str, ...] = Field(
        ("*",), description="Span attribute keys to redact (glob patterns; `*` = all)."
    )
    redact_phone_regions: tuple[str, ...] = Field(
        ("US", "GB"), description="Regions whose national phone formats are recognised."
    )

    # --- analytics (query server, query, analyze, export; sinks/_query_server.py) ---
    query_server_host: str = Field(
        "127.0.0.1",
        description="Address the embedded-mode query server binds to (keep it loopback).",
    )
    query_server_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="Port of the embedded-mode query server; 0 picks a free one (announced in `<home>/query-server.json`).",
    )
    query_timeout_s: float = Field(
        300.0, gt=0, le=86_400, description="Longest wait for one query through the query server."
    )
    analyze_top_n: int = Field(
        10,
        ge=1,
        le=1000,
        description="Rows per ranking in `tracestream analyze` (operations, traces, patterns).",
    )

    # --- processing (assembly, pricing, windows, anomalies; see streams/) ---
    grace_s: float = Field(
        5.0, ge=0, le=3600, description="Wait after a trace's root span ended before emitting it."
    )
    idle_timeout_s: float = Field(
        300.0,
        gt=0,
        le=86_400,
        description="Emit a trace as `incomplete` after this long without events.",
    )
    trace_linger_s: float = Field(
        600.0,
        ge=0,
        le=86_400,
        description="Keep an emitted trace this long so late events re-emit it with a higher version.",
    )
    max_spans_per_trace: int = Field(
        1000, ge=1, le=1_000_000, description="Spans kept per trace; more are dropped and counted."
    )
    max_open_traces: int = Field(
        100_000,
        ge=1,
        le=10_000_000,
        description="Trace states kept per worker; one more evicts the oldest (emitted as `incomplete`, counted).",
    )
    max_trace_state_mb: int = Field(
        1024,
        ge=1,
        le=1_048_576,
        description=(
            "Estimated memory of the trace states per worker (open and lingering); past it "
            "the oldest by first sight are evicted, which are mostly lingering ones (counted "
            "as `evicted_for_memory`). Resident memory runs about twice the estimate "
            "(runtime, client buffers, fragmentation)."
        ),
    )
    window_s: float = Field(
        60.0, gt=0, le=86_400, description="Length of the tumbling rolling-metrics windows."
    )
    allowed_lateness_s: float = Field(
        10.0,
        ge=0,
        le=86_400,
        description="How far behind the newest span end a span may arrive and still count.",
    )
    anomaly_threshold: float = Field(
        4.0,
        gt=0,
        le=100,
        description="Robust z-score magnitude (median/MAD) at or above which a window metric is an anomaly.",
    )
    anomaly_baseline_windows: int = Field(
        30,
        ge=1,
        le=10_000,
        description="Previous windows of the same key forming the anomaly baseline.",
    )
    anomaly_min_baseline: int = Field(
        10, ge=1, le=10_000, description="Windows of history needed before a key is scored."
    )
    anomaly_min_count: int = Field(
        20,
        ge=1,
        le=1_000_000,
        description="Spans a window needs before its latency p95 and error rate are scored.",
    )
    price_overrides: tuple[dict[str, Any], ...] = Field(
        (),
        description=(
            "Project price overrides, a TOML array of tables: name, project (glob, default *), "
            "model (glob), effective_from (datetime), input_per_mtok, output_per_mtok and optional "
            "cached_per_mtok, cache_write_per_mtok, reasoning_per_mtok (USD per million tokens). "
            "The newest effective override matching project and model wins."
        ),
    )

    # --- observability ---
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Log level of the CLI, worker and sink."
    )

    @field_validator("kafka_bootstrap")
    @classmethod
    def _check_bootstrap(cls, value: str) -> str:
        for server in value.split(","):
            host, sep, port = server.strip().rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{server!r} is not host:port")
        return value

    @field_validator("price_overrides")
    @classmethod
    def _check_price_overrides(
        cls, value: tuple[dict[str, Any], ...]
    ) -> tuple[dict[str, Any], ...]:
        # The model lives with the pricer (pipeline extra); the bare SDK install skips the check.
        try:
            from tracestream.streams import PriceOverride
        except ImportError:
            return value
        for item in value:
            PriceOverride.model_validate(item)
        return value

    @field_validator("clickhouse_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://", "clickhouse://")):
            raise ValueError("must start with http://, https:// or clickhouse://")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if cls.toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=cls.toml_path))
        return tuple(sources)


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from arguments, environment and file.

    Raises:
        SettingsError: a value is invalid; the message names each bad setting,
            its environment variable, what is wrong and how to fix it.
    """
    Settings.toml_path = _config_file()
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(_explain(exc)) from None


def _explain(exc: ValidationError) -> str:
    lines = ["invalid tracestream settings:"]
    for err in exc.errors():
        name = ".".join(str(part) for part in err["loc"]) or "?"
        field = Settings.model_fields.get(name)
        hint = f" ({field.description})" if field is not None and field.description else ""
        if err["type"] == "extra_forbidden":
            lines.append(
                f"  - {name}: unknown setting. Fix: remove it; known settings are listed by `tracestream config`."
            )
            continue
        lines.append(
            f"  - {name} (env {ENV_PREFIX}{name.upper()}): {err['msg']}; got {err.get('input')!r}."
            f" Fix: set a valid value{hint}."
        )
    return "\n".join(lines)


def _shown_default(field: FieldInfo) -> Any:
    """The default as the reference shows it: a derived default says how it is derived."""
    extra = field.json_schema_extra
    if isinstance(extra, dict) and "default_shown" in extra:
        return extra["default_shown"]
    return field.default


def settings_markdown() -> str:
    """The settings reference as Markdown: one row per setting."""
    rows = [
        "# Configuration",
        "",
        "Precedence: keyword arguments > environment variables > TOML file > defaults.",
        "The TOML file is `$TRACESTREAM_CONFIG`, else `./tracestream.toml` when present;",
        "its keys are the setting names below.",
        "",
        "Where tracestream writes: data (the chDB engine, the query server's discovery",
        "file, the demo's worker) under `home`; downloads and the local Kafka broker's",
        "jars, data and logs under `cache_dir`. Both default to per-user directories",
        "(XDG), and `TRACESTREAM_HOME` alone moves both; nothing is written beside the",
        "installed package. In a checkout, `make` and `deploy/kafka/kafka.sh` set them to",
        "the checkout's git-ignored `.tracestream/` and `.cache/`, and the test suite",
        "runs the broker from `.cache/` too.",
        "",
        "Generated by `tracestream config --markdown`; a test keeps it in step with the code.",
        "",
        "| setting | environment variable | default | description |",
        "|---|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        default = _shown_default(field)
        rows.append(
            f"| `{name}` | `{ENV_PREFIX}{name.upper()}` | `{default!s}` | {field.description or ''} |"
        )
    return "\n".join(rows) + "\n"
