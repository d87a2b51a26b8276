"""docker-compose.yml, checked without a Docker engine.

The file is validated against the Compose Specification's JSON Schema,
vendored in ``tests/data/compose-spec.json`` (Apache-2.0; source and commit in
``tests/data/compose-spec.NOTICE.md``) because the suite runs offline. Beyond
the schema: every image pins a version, the ClickHouse server runs the same
major version as the embedded engine every test runs the DDL on, only the
keyed public endpoints listen beyond loopback, no secret sits in the file, and
every path and scrape target the file names exists.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import chdb
import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
SCHEMA = ROOT / "tests" / "data" / "compose-spec.json"

# The two services meant for clients beyond this host; both refuse to start
# off loopback without keys (tracestream/cli/_otlp.py, _ui.py).
PUBLIC_SERVICES = {"otlp", "ui"}
# `name:1.2`, `name:v1.2.3`, `name:1.2-alpine` or a digest; never `latest`.
_PINNED = re.compile(r"^[\w./-]+(:v?\d+(\.\d+)*([-.][\w.]+)?|@sha256:[0-9a-f]{64})$")
_SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|(^|_)KEYS?($|_)", re.IGNORECASE)
_INTERPOLATION = re.compile(r"^\$\{[A-Z_][A-Z0-9_]*(:?[?-][^}]*)?\}$")


def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _services() -> dict[str, dict[str, Any]]:
    services = _compose()["services"]
    assert isinstance(services, dict)
    return services


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def test_compose_file_is_valid_under_the_compose_specification() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(_compose()), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors
    )


def test_the_schema_rejects_what_compose_rejects() -> None:
    # Guards the guard: a vendored schema that accepted anything would pass the test above.
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    broken = _compose()
    broken["services"]["worker"]["depends_on"] = {"topics": {"condition": "when_ready"}}
    assert not jsonschema.Draft7Validator(schema).is_valid(broken)
    broken = _compose()
    broken["services"]["sink"]["restart_policy"] = "always"
    assert not jsonschema.Draft7Validator(schema).is_valid(broken)


def test_every_image_pins_a_version() -> None:
    for name, service in _services().items():
        image = service.get("image")
        assert image, f"{name}: no image (a built service still names and tags its image)"
        assert _PINNED.match(image), f"{name}: image {image!r} pins no version"


def test_clickhouse_server_runs_the_major_version_of_the_embedded_engine() -> None:
    # The DDL (text indexes, settings) is proven on chDB only; another major may refuse it.
    image = _services()["clickhouse"]["image"]
    assert image.startswith("clickhouse/clickhouse-server:")
    server_major = image.split(":", 1)[1].split(".")[0]
    engine_major = str(chdb.engine_version).split(".")[0]
    assert server_major == engine_major, (
        f"compose runs ClickHouse {image.split(':', 1)[1]}, chDB embeds {chdb.engine_version}"
    )


def test_only_the_keyed_public_endpoints_listen_beyond_loopback() -> None:
    for name, service in _services().items():
        for port in service.get("ports", []):
            text = str(port)
            if name in PUBLIC_SERVICES:
                continue
            assert text.startswith("127.0.0.1:"), f"{name}: port {text} is not bound to loopback"
    assert "--host" in _services()["otlp"]["command"]
    assert "--host" in _services()["ui"]["command"]


def test_public_endpoints_get_their_keys_from_outside_the_file() -> None:
    otlp = _environment(_services()["otlp"])
    assert _INTERPOLATION.match(otlp["TRACESTREAM_OTLP_INGEST_KEYS"])
    ui = _services()["ui"]
    key_file = ui["command"][ui["command"].index("--access-key-file") + 1]
    secret = key_file.removeprefix("/run/secrets/")
    assert secret in ui["secrets"]
    assert set(_compose()["secrets"][secret]) == {"environment"}


def test_no_secret_is_written_in_the_file() -> None:
    for name, service in _services().items():
        for key, value in _environment(service).items():
            if _SECRET_NAME.search(key):
                assert _INTERPOLATION.match(value), f"{name}: {key} is not taken from the env"
            # A password inside a URL: user:password@host.
            for password in re.findall(r"://[^:/@\s]+:([^@\s]+)@", value):
                assert _INTERPOLATION.match(password), f"{name}: {key} embeds a password"


def test_every_mounted_path_exists() -> None:
    for name, service in _services().items():
        for volume in service.get("volumes", []):
            source = str(volume).split(":", 1)[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name}: {source} does not exist"
        if "build" in service:
            assert (ROOT / "Dockerfile").is_file()


def test_prometheus_scrapes_the_services_it_names_with_our_rules() -> None:
    compose = _compose()
    config = yaml.safe_load(compose["configs"]["prometheus"]["content"])
    services = _services()
    targets = {
        job["job_name"]: target
        for job in config["scrape_configs"]
        for group in job["static_configs"]
        for target in group["targets"]
    }
    assert set(targets) >= {"tracestream-worker", "tracestream-sink"}
    for target in targets.values():
        host, port = target.split(":")
        assert host in services, f"scrape target {target} is no service"
        command = " ".join(services[host].get("command", []))
        env = _environment(services[host])
        # The port must be the one the service serves /metrics on.
        assert (
            port in command
            or env.get("TRACESTREAM_WORKER_WEB_PORT", "6066") == port
            or (host == "otlp" and port == "4318")
        ), f"{target}: the service does not serve that port"
    # Each scraped service listens on the container network, not only on its loopback.
    assert services["worker"]["environment"]["TRACESTREAM_WORKER_WEB_HOST"] == "0.0.0.0"
    assert "--metrics-host 0.0.0.0" in " ".join(services["sink"]["command"])
    assert "--host 0.0.0.0" in " ".join(services["otlp"]["command"])
    assert config["rule_files"] == ["rules/*.yml"]
    assert any(
        str(v).startswith("./deploy/prometheus/rules:/etc/prometheus/rules")
        for v in services["prometheus"]["volumes"]
    )
    assert list((ROOT / "deploy" / "prometheus" / "rules").glob("*.yml"))


@pytest.mark.parametrize("dependency", ["topics", "migrate"])
def test_services_wait_for_the_one_shot_jobs(dependency: str) -> None:
    for name in ("sink", "ui"):
        condition = _services()[name]["depends_on"][dependency]["condition"]
        assert condition == "service_completed_successfully"


def test_grafana_provisions_the_data_sources_the_dashboards_use() -> None:
    grafana = ROOT / "deploy" / "grafana"
    provisioned = yaml.safe_load(
        (grafana / "provisioning" / "datasources" / "tracestream.yml").read_text(encoding="utf-8")
    )
    uids = {ds["uid"]: ds["type"] for ds in provisioned["datasources"]}
    assert uids.get("tracestream-clickhouse") == "grafana-clickhouse-datasource"
    plugin = _environment(_services()["grafana"])["GF_PLUGINS_PREINSTALL_SYNC"]
    assert plugin.startswith("grafana-clickhouse-datasource@")
    dashboards = sorted((grafana / "dashboards").glob("*.json"))
    assert {p.stem for p in dashboards} >= {
        "latency", "cost", "errors", "anomalies", "pipeline-health"
    }  # fmt: skip
    for path in dashboards:
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                ds = target["datasource"]
                assert uids.get(ds["uid"]) == ds["type"], f"{path.name}: {panel['title']}"


def test_prometheus_panels_query_metrics_the_pipeline_exports() -> None:
    # A renamed metric would leave a panel silently empty.
    from prometheus_client import CollectorRegistry

    from tracestream.sinks import SinkMetrics
    from tracestream.streams import PipelineMetrics

    registry = CollectorRegistry()
    PipelineMetrics(registry)
    SinkMetrics(registry)
    # Labelled metrics have no samples until observed: derive the exposition names.
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
    exported = {
        family.name + suffix
        for family in registry.collect()
        for suffix in suffixes.get(family.type, ("",))
    }
    path = ROOT / "deploy" / "grafana" / "dashboards" / "pipeline-health.json"
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    exprs = [
        target["expr"]
        for panel in dashboard["panels"]
        for target in panel["targets"]
        if target["datasource"]["type"] == "prometheus"
    ]
    assert exprs
    for expr in exprs:
        for name in re.findall(r"\btracestream_[a-z_]+", expr):
            assert name in exported, f"{name} in {expr!r} is not exported"


def test_operations_doc_says_what_to_do_for_every_alert() -> None:
    rules = yaml.safe_load(
        (ROOT / "deploy" / "prometheus" / "rules" / "tracestream.rules.yml").read_text(
            encoding="utf-8"
        )
    )
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    doc = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    rows = {m.group(1) for m in re.finditer(r"^\| `(Tracestream\w+)` \(\w+\) \|", doc, re.M)}
    assert alerts == rows, f"missing: {alerts - rows}, stale: {rows - alerts}"


def test_the_build_context_leaves_out_local_data_but_not_what_the_image_copies() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", ".cache", ".tracestream"} <= ignored
    copied = [
        line.split()[1]
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("COPY ")
    ]
    for source in copied:
        top = source.split("/")[0]
        assert top not in ignored and source not in ignored, f"{source} is copied but ignored"
