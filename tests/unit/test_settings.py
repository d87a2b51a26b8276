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


@pytest.fixture
def user_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A fake user home directory with no XDG variables set."""
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    return tmp_path / "user"


def test_data_and_caches_default_to_the_users_directories(user_home: Path) -> None:
    settings = load_settings()
    assert settings.home == user_home / ".local/share/tracestream"
    assert settings.cache_dir == user_home / ".cache/tracestream"


def test_xdg_variables_move_the_defaults_and_a_relative_one_is_ignored(
    user_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", "/srv/data")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    settings = load_settings()
    assert settings.home == Path("/srv/data/tracestream")
    assert settings.cache_dir == user_home / ".cache/tracestream"


def test_tracestream_home_moves_the_caches_too_unless_they_are_set(
    user_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACESTREAM_HOME", "/srv/ts")
    assert (load_settings().home, load_settings().cache_dir) == (
        Path("/srv/ts"),
        Path("/srv/ts/cache"),
    )
    monkeypatch.setenv("TRACESTREAM_CACHE_DIR", "/var/cache/ts")
    assert load_settings().cache_dir == Path("/var/cache/ts")
    assert load_settings(home="/elsewhere").cache_dir == Path("/var/cache/ts")


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


def test_the_default_detectors_are_the_streams_list() -> None:
    # One source: the settings name no detector; the policy gets the streams list.
    from tracestream._redaction_settings import redaction_policy
    from tracestream.streams import BUILTIN_DETECTORS, RedactionPolicy

    default = load_settings().redact_detectors
    assert not set(default) & set(BUILTIN_DETECTORS)
    assert redaction_policy(load_settings()).detectors == BUILTIN_DETECTORS
    assert RedactionPolicy().detectors == BUILTIN_DETECTORS


def test_detectors_are_chosen_by_name_or_glob(monkeypatch: pytest.MonkeyPatch) -> None:
    from tracestream._redaction_settings import redaction_policy

    monkeypatch.setenv("TRACESTREAM_REDACT_DETECTORS", '["ipv*", "email"]')
    assert redaction_policy(load_settings()).detectors == ("email", "ipv6", "ipv4")
    with pytest.raises(SettingsError, match="passport"):
        redaction_policy(load_settings(redact_detectors=("email", "passport")))


def test_ids_hash_when_a_key_is_set_and_mask_when_not(tmp_path: Path) -> None:
    from tracestream._redaction_settings import redaction_policy

    assert redaction_policy(load_settings()).effective_id_mode == "mask"
    key_file = tmp_path / "key"
    key_file.write_text("a key\n")
    keyed = load_settings(redact_hmac_key_file=key_file)
    assert redaction_policy(keyed).effective_id_mode == "hash"
    with pytest.raises(SettingsError, match="HMAC key"):
        redaction_policy(load_settings(redact_id_mode="hash"))
