"""Settings: precedence, validation messages, and the generated reference."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracestream._settings import SettingsError, load_settings, settings_markdown

pytestmark = pytest.mark.unit

DOCS = Path(__file__).parents[2] / "docs" / "configuration.md"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("TRACESTREAM_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults() -> None:
    settings = load_settings()
    assert settings.kafka_bootstrap == "127.0.0.1:19092"
    assert settings.max_event_bytes == 1024 * 1024
    assert settings.home == Path(".tracestream")


def test_precedence_argument_over_env_over_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "tracestream.toml").write_text(
        'project = "from-file"\nservice = "file-svc"\ntopic_partitions = 3\n'
    )
    monkeypatch.setenv("TRACESTREAM_PROJECT", "from-env")
    settings = load_settings()
    assert (settings.project, settings.service, settings.topic_partitions) == (
        "from-env",
        "file-svc",
        3,
    )
    assert load_settings(project="from-arg").project == "from-arg"


def test_explicit_config_file_must_exist(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TRACESTREAM_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(SettingsError, match="TRACESTREAM_CONFIG points at"):
        load_settings()


def test_bad_values_name_the_setting_and_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACESTREAM_TOPIC_PARTITIONS", "zero")
    monkeypatch.setenv("TRACESTREAM_KAFKA_BOOTSTRAP", "localhost")
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert "topic_partitions (env TRACESTREAM_TOPIC_PARTITIONS)" in message
    assert "kafka_bootstrap (env TRACESTREAM_KAFKA_BOOTSTRAP)" in message
    assert "'localhost' is not host:port" in message
    assert "Fix:" in message


def test_unknown_keys_in_the_file_are_rejected(tmp_path: Path) -> None:
    (tmp_path / "tracestream.toml").write_text("kafka_bootstarp = 'x:1'\n")
    with pytest.raises(SettingsError, match="kafka_bootstarp: unknown setting"):
        load_settings()


def test_clickhouse_url_scheme_is_checked() -> None:
    with pytest.raises(SettingsError, match="clickhouse_url"):
        load_settings(clickhouse_url="localhost:8123")


def test_reference_docs_are_in_step_with_the_code() -> None:
    assert DOCS.read_text() == settings_markdown(), (
        "docs/configuration.md is stale: run `tracestream config --markdown > docs/configuration.md`"
    )
