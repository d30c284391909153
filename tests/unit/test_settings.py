"""Settings: defaults, the refusal of the public secret, and errors that name the variable."""

from __future__ import annotations

import pytest

from passerelle.core.errors import InvalidInput
from passerelle.settings import DEFAULT_SECRET_KEY, Settings, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("PASSERELLE_"):
            monkeypatch.delenv(name)


def test_dev_accepts_the_default_secret_and_plain_http() -> None:
    settings = load_settings(env="dev")
    assert settings.secret_key == DEFAULT_SECRET_KEY
    assert settings.secure_cookies is False
    assert settings.effective_database_url.endswith("var/passerelle.db")


def test_production_refuses_the_default_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InvalidInput) as caught:
        load_settings()
    assert str(caught.value) == (
        "PASSERELLE_SECRET_KEY must be set outside dev (the default key is public)"
    )


def test_production_with_a_secret_uses_secure_cookies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PASSERELLE_SECRET_KEY", "Vq3-xT9_pL2mZ8rK5wN1bY7cH4jF6dG0")
    settings = load_settings()
    assert settings.env == "production"
    assert settings.secure_cookies is True


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        (" " * 32, "it starts or ends with spaces (or is only spaces)"),
        ("\t" * 40, "it starts or ends with spaces (or is only spaces)"),
        (" Vq3-xT9_pL2mZ8rK5wN1bY7cH4jF6dG0", "it starts or ends with spaces (or is only spaces)"),
        ("x" * 40, "it uses fewer than 10 different characters"),
        ("0101010101010101010101010101010101", "it uses fewer than 10 different characters"),
        ("abcdefghij" * 4, "it repeats a short sequence"),
    ],
)
def test_production_refuses_a_weak_secret(
    monkeypatch: pytest.MonkeyPatch, secret: str, reason: str
) -> None:
    monkeypatch.setenv("PASSERELLE_SECRET_KEY", secret)
    with pytest.raises(InvalidInput) as caught:
        load_settings()
    assert str(caught.value) == f"PASSERELLE_SECRET_KEY is too weak: {reason}"


def test_dev_tolerates_a_weak_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PASSERELLE_SECRET_KEY", " " * 32)
    assert load_settings(env="dev").secret_key == " " * 32


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PASSERELLE_PORT", "eighty", "PASSERELLE_PORT must be a whole number"),
        ("PASSERELLE_PORT", "70000", "PASSERELLE_PORT must be at most 65535"),
        ("PASSERELLE_ENV", "staging", "PASSERELLE_ENV must be one of: dev, test, production"),
        (
            "PASSERELLE_SECRET_KEY",
            "short",
            "PASSERELLE_SECRET_KEY must have at least 32 characters",
        ),
        ("PASSERELLE_COOKIE_SECURE", "maybe", "PASSERELLE_COOKIE_SECURE must be true or false"),
        (
            "PASSERELLE_FETCH_TIMEOUT_SECONDS",
            "x",
            "PASSERELLE_FETCH_TIMEOUT_SECONDS must be a number",
        ),
    ],
)
def test_a_bad_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv("PASSERELLE_ENV", "dev")
    monkeypatch.setenv(name, value)
    with pytest.raises(InvalidInput) as caught:
        load_settings()
    assert str(caught.value).startswith(message)
    assert value not in str(caught.value)  # the value is not repeated: it may be a secret


def test_a_problem_we_have_no_words_for_still_names_the_variable() -> None:
    with pytest.raises(InvalidInput) as caught:
        load_settings(env="dev", fetch_max_bytes=[1])
    assert str(caught.value) == "PASSERELLE_FETCH_MAX_BYTES: Input should be a valid integer"


def test_every_refused_value_is_named_in_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PASSERELLE_ENV", "dev")
    monkeypatch.setenv("PASSERELLE_PORT", "0")
    monkeypatch.setenv("PASSERELLE_DEFAULT_LOCALE", "de")
    with pytest.raises(InvalidInput) as caught:
        load_settings()
    assert str(caught.value) == (
        "PASSERELLE_PORT must be at least 1; PASSERELLE_DEFAULT_LOCALE must be one of: fr, en"
    )


def test_every_field_is_described() -> None:
    for name, field in Settings.model_fields.items():
        assert field.description, f"setting {name} has no description"
