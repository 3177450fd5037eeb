from __future__ import annotations

import pytest

from docg_server.config import (
    DEV_ENCRYPTION_KEY,
    DEV_JWT_SECRET,
    DEV_STORAGE_SECRET,
    Settings,
    SettingsError,
    get_settings,
)
from docg_server.crypto import generate_key

VARIABLES = [
    "DOCG_ENV",
    "DATABASE_URL",
    "ENCRYPTION_KEY",
    "JWT_SECRET",
    "TEMPORAL_ADDRESS",
    "TEMPORAL_NAMESPACE",
    "TEMPORAL_TASK_QUEUE",
    "DOCG_STORAGE_DIR",
    "DOCG_STORAGE_SECRET",
    "DO_SPACES_ACCESS_KEY",
    "DO_SPACES_SECRET_KEY",
    "DO_SPACES_BUCKET",
    "DO_SPACES_ENDPOINT",
    "DO_SPACES_REGION",
    "CORS_ORIGINS",
]
GOOD_JWT = "j" * 48
GOOD_STORAGE = "s" * 48


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> str:
    """A complete production environment; returns its ENCRYPTION_KEY."""
    key = generate_key("k1")
    monkeypatch.setenv("DOCG_ENV", "production")
    monkeypatch.setenv("ENCRYPTION_KEY", key)
    monkeypatch.setenv("JWT_SECRET", GOOD_JWT)
    monkeypatch.setenv("DOCG_STORAGE_SECRET", GOOD_STORAGE)
    return key


def test_defaults_follow_the_design() -> None:
    settings = Settings()
    assert settings.DOCG_ENV == "development"
    assert settings.DATABASE_URL == "sqlite:///./docg.db"
    assert settings.TEMPORAL_ADDRESS is None
    assert settings.TEMPORAL_NAMESPACE == "default"
    assert settings.TEMPORAL_TASK_QUEUE == "docg-workflows"
    assert settings.DOCG_STORAGE_DIR == "./docg-files"
    assert settings.CORS_ORIGINS == []


def test_development_uses_the_marked_development_secrets() -> None:
    settings = Settings()
    assert settings.jwt_secret() == DEV_JWT_SECRET
    assert settings.storage_secret() == DEV_STORAGE_SECRET
    assert settings.keyring().kids == ("dev",)
    assert "NOT-SECRET" in DEV_JWT_SECRET and "NOT-SECRET" in DEV_STORAGE_SECRET


def test_a_complete_production_configuration_starts(production: str) -> None:
    settings = Settings()
    assert settings.is_production
    assert settings.jwt_secret() == GOOD_JWT
    assert settings.storage_secret() == GOOD_STORAGE
    assert settings.keyring().primary_kid == "k1"


@pytest.mark.parametrize("name", ["ENCRYPTION_KEY", "JWT_SECRET", "DOCG_STORAGE_SECRET"])
def test_production_refuses_a_missing_secret_naming_it(
    production: str, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.delenv(name)
    with pytest.raises(SettingsError, match=f"{name} is required when DOCG_ENV=production"):
        Settings()


@pytest.mark.parametrize("name", ["ENCRYPTION_KEY", "JWT_SECRET", "DOCG_STORAGE_SECRET"])
def test_production_refuses_an_empty_secret(
    production: str, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(name, "")
    with pytest.raises(SettingsError, match=name):
        Settings()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("JWT_SECRET", DEV_JWT_SECRET, "JWT_SECRET is the public development default"),
        (
            "DOCG_STORAGE_SECRET",
            DEV_STORAGE_SECRET,
            "DOCG_STORAGE_SECRET is the public development default",
        ),
        ("ENCRYPTION_KEY", DEV_ENCRYPTION_KEY, "ENCRYPTION_KEY holds the public development key"),
        (
            "ENCRYPTION_KEY",
            f"{generate_key('k2')},mine:{DEV_ENCRYPTION_KEY.partition(':')[2]}",
            "ENCRYPTION_KEY holds the public development key",
        ),
        ("JWT_SECRET", "short", "JWT_SECRET is shorter than 32 characters"),
    ],
)
def test_production_refuses_a_development_or_weak_secret(
    production: str, monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message):
        Settings()


def test_production_lists_every_problem_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCG_ENV", "production")
    with pytest.raises(SettingsError) as caught:
        Settings()
    for name in ("ENCRYPTION_KEY", "JWT_SECRET", "DOCG_STORAGE_SECRET"):
        assert f"{name} is required" in str(caught.value)


def test_a_malformed_encryption_key_is_refused_in_development_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = "k1:c2hvcnQta2V5"  # base64 of "short-key"
    monkeypatch.setenv("ENCRYPTION_KEY", secret)
    with pytest.raises(SettingsError, match=r"ENCRYPTION_KEY entry 1 \('k1'\)") as caught:
        Settings()
    assert "c2hvcnQta2V5" not in str(caught.value)


def test_secrets_never_appear_in_the_settings_repr(production: str) -> None:
    text = repr(Settings())
    assert GOOD_JWT not in text and production.partition(":")[2] not in text


def test_an_unknown_environment_name_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCG_ENV", "prod")
    with pytest.raises(ValueError, match="DOCG_ENV"):
        Settings()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "https://app.example.com, http://localhost:5173",
            ["https://app.example.com", "http://localhost:5173"],
        ),
        ('["https://a.example"]', ["https://a.example"]),
        ("", []),
    ],
)
def test_cors_origins_are_comma_separated_or_json(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: list[str]
) -> None:
    monkeypatch.setenv("CORS_ORIGINS", value)
    assert expected == Settings().CORS_ORIGINS


def test_a_spaces_bucket_needs_the_other_spaces_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DO_SPACES_BUCKET", "docg")
    monkeypatch.setenv("DO_SPACES_ENDPOINT", "nyc3.digitaloceanspaces.com")
    with pytest.raises(
        SettingsError,
        match="DO_SPACES_BUCKET is set but DO_SPACES_ACCESS_KEY, DO_SPACES_SECRET_KEY are not",
    ):
        Settings()


def test_temporal_and_storage_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", "localhost:7233")
    monkeypatch.setenv("TEMPORAL_TASK_QUEUE", "other")
    monkeypatch.setenv("DO_SPACES_BUCKET", "docg")
    monkeypatch.setenv("DO_SPACES_ENDPOINT", "nyc3.digitaloceanspaces.com")
    monkeypatch.setenv("DO_SPACES_ACCESS_KEY", "AK")
    monkeypatch.setenv("DO_SPACES_SECRET_KEY", "SK")
    settings = Settings()
    assert settings.TEMPORAL_ADDRESS == "localhost:7233"
    assert settings.TEMPORAL_TASK_QUEUE == "other"
    assert settings.DO_SPACES_SECRET_KEY is not None
    assert settings.DO_SPACES_SECRET_KEY.get_secret_value() == "SK"


def test_get_settings_reads_the_environment_once(monkeypatch: pytest.MonkeyPatch) -> None:
    get_settings.cache_clear()
    try:
        monkeypatch.setenv("DATABASE_URL", "sqlite:///first.db")
        first = get_settings()
        monkeypatch.setenv("DATABASE_URL", "sqlite:///second.db")
        assert get_settings() is first
    finally:
        get_settings.cache_clear()
