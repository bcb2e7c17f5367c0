"""Configuration from a TOML file and the environment; the environment wins; bad values are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, load_settings


def test_defaults_run_offline_in_shanghai() -> None:
    settings = load_settings(env={})
    assert settings.offline_demo
    assert settings.timezone == "Asia/Shanghai"
    assert settings.telegram_base_url == "https://api.telegram.org/bot"


def test_file_then_environment(tmp_path: Path) -> None:
    config = tmp_path / "rider.toml"
    config.write_text(
        'telegram_base_url = "http://127.0.0.1:8081/bot"\n'
        'admins = [1, 2]\ndb_path = "x.db"\ntimezone = "Asia/Urumqi"\n',
        encoding="utf-8",
    )
    settings = load_settings(config, env={"RIDER_ADMINS": "7, 8", "TELEGRAM_TOKEN": "123:abc"})
    assert settings.telegram_base_url == "http://127.0.0.1:8081/bot"
    assert settings.admins == (7, 8)
    assert settings.db_path == Path("x.db")
    assert settings.timezone == "Asia/Urumqi"
    assert not settings.offline_demo
    assert settings.redacted()["telegram_token"] == "***"


@pytest.mark.parametrize(
    "env",
    [{"RIDER_TIMEZONE": "Mars/Olympus"}, {"RIDER_ADMINS": "alice"}, {"RIDER_MODE": "carrier-pigeon"},
     {"RIDER_MODE": "webhook"}, {"RIDER_WEBHOOK_PORT": "eighty"}],
)  # fmt: skip
def test_bad_values_are_refused_with_the_setting_named(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        load_settings(env=env)


def test_settings_are_immutable() -> None:
    with pytest.raises(AttributeError):
        Settings().timezone = "UTC"  # type: ignore[misc]
