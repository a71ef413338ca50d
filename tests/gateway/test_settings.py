"""Settings come from ``GATEWAY_*`` variables, with safe defaults and derived URLs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.settings import MAX_ACCESS_TOKEN_LIFETIME_S, Environment, Settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No GATEWAY_* variable from the developer's shell, and no .env file, leaks in."""
    for name in list(os.environ):
        if name.upper().startswith("GATEWAY_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults() -> None:
    settings = Settings()
    assert settings.database_url == "sqlite:///var/gateway.db"
    assert settings.environment == Environment.DEVELOPMENT
    assert settings.key_dir == Path("var/keys")
    assert settings.public_base_url == "http://127.0.0.1:8000"
    assert settings.access_token_lifetime_s == MAX_ACCESS_TOKEN_LIFETIME_S == 300
    assert settings.max_body_bytes == 1_048_576
    assert settings.log_level == "INFO"


def test_reads_gateway_prefixed_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_DATABASE_URL", "postgresql+psycopg://gw@db/gateway")
    monkeypatch.setenv("GATEWAY_KEY_DIR", "/etc/gateway/keys")
    monkeypatch.setenv("GATEWAY_ENVIRONMENT", "production")
    monkeypatch.setenv("GATEWAY_ACCESS_TOKEN_LIFETIME_S", "120")
    monkeypatch.setenv("GATEWAY_MAX_BODY_BYTES", "4096")
    monkeypatch.setenv("GATEWAY_PUBLIC_BASE_URL", "https://gateway.example.fr")
    settings = Settings()
    assert settings.database_url == "postgresql+psycopg://gw@db/gateway"
    assert settings.key_dir == Path("/etc/gateway/keys")
    assert settings.environment == Environment.PRODUCTION
    assert settings.access_token_lifetime_s == 120
    assert settings.max_body_bytes == 4096
    assert settings.public_base_url == "https://gateway.example.fr"


def test_ignores_unprefixed_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://other@db/other")
    monkeypatch.setenv("ENVIRONMENT", "production")
    settings = Settings()
    assert settings.database_url == "sqlite:///var/gateway.db"
    assert settings.environment == Environment.DEVELOPMENT


def test_reads_a_dot_env_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("GATEWAY_ENVIRONMENT=production\n")
    assert Settings().environment == Environment.PRODUCTION


@pytest.mark.parametrize("lifetime", [301, 600, 3600])
def test_access_token_lifetime_over_five_minutes_is_refused(
    monkeypatch: pytest.MonkeyPatch, lifetime: int
) -> None:
    with pytest.raises(ValidationError, match="access_token_lifetime_s"):
        Settings(access_token_lifetime_s=lifetime)
    monkeypatch.setenv("GATEWAY_ACCESS_TOKEN_LIFETIME_S", str(lifetime))
    with pytest.raises(ValidationError, match="access_token_lifetime_s"):
        Settings()


def test_access_token_lifetime_bounds_are_accepted() -> None:
    assert Settings(access_token_lifetime_s=300).access_token_lifetime_s == 300
    assert Settings(access_token_lifetime_s=30).access_token_lifetime_s == 30
    with pytest.raises(ValidationError):
        Settings(access_token_lifetime_s=29)


def test_unknown_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_ENVIRONMENT", "staging")
    with pytest.raises(ValidationError, match="environment"):
        Settings()


@pytest.mark.parametrize(
    "given",
    ["https://gateway.example.fr/", "https://gateway.example.fr//", "https://gateway.example.fr"],
)
def test_trailing_slash_is_stripped_and_urls_are_derived(given: str) -> None:
    settings = Settings(public_base_url=given)
    assert settings.public_base_url == "https://gateway.example.fr"
    assert settings.issuer == "https://gateway.example.fr"
    assert settings.audience == "https://gateway.example.fr"
    assert settings.token_endpoint == "https://gateway.example.fr/oauth2/token"


def test_trailing_slash_is_stripped_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_PUBLIC_BASE_URL", "https://gw.example.fr/api/")
    settings = Settings()
    assert settings.public_base_url == "https://gw.example.fr/api"
    assert settings.token_endpoint == "https://gw.example.fr/api/oauth2/token"


def test_the_access_reports_window_is_a_day_by_default_and_read_from_its_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().console_access_shown_hours == 24
    assert Settings().console_access_pending_hours == 72
    monkeypatch.setenv("GATEWAY_CONSOLE_ACCESS_SHOWN_HOURS", "168")
    monkeypatch.setenv("GATEWAY_CONSOLE_ACCESS_PENDING_HOURS", "1")
    assert (Settings().console_access_shown_hours, Settings().console_access_pending_hours) == (
        168,
        1,
    )


@pytest.mark.parametrize(
    ("name", "hours"),
    [
        ("console_access_shown_hours", 0),
        ("console_access_shown_hours", -1),
        ("console_access_shown_hours", 169),
        ("console_access_pending_hours", 0),
        ("console_access_pending_hours", 721),
    ],
)
def test_the_access_reports_windows_out_of_bounds_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, hours: int
) -> None:
    with pytest.raises(ValidationError, match=name):
        Settings.model_validate({name: hours})
    monkeypatch.setenv("GATEWAY_" + name.upper(), str(hours))
    with pytest.raises(ValidationError, match=name):
        Settings()
