"""The one settings object of Passerelle, read from `PASSERELLE_*` variables at the entry points."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from passerelle.core.errors import InvalidInput
from passerelle.core.message import Message
from passerelle.core.video import VideoLimits

DEFAULT_SECRET_KEY = "dev-only-secret-key-do-not-use-in-production"  # noqa: S105 - refused outside dev


MIN_SECRET_CHARACTERS = 32
MIN_DISTINCT_CHARACTERS = 10


def secret_weakness(secret: str) -> Message | None:
    """Why a secret is too guessable to protect keys, links and the audit chain, or None.

    Length alone does not make a secret: 32 spaces or "abab…" are long and guessed at once.
    The rule is deliberately simple (no entropy estimate): no padding, enough characters,
    enough different characters, and not one short unit repeated."""
    if secret.strip() != secret or not secret.strip():
        return Message("it starts or ends with spaces (or is only spaces)")
    if len(secret) < MIN_SECRET_CHARACTERS:
        return Message("it has fewer than %(count)s characters", {"count": MIN_SECRET_CHARACTERS})
    if len(set(secret)) < MIN_DISTINCT_CHARACTERS:
        return Message(
            "it uses fewer than %(count)s different characters",
            {"count": MIN_DISTINCT_CHARACTERS},
        )
    for unit in range(1, len(secret) // 2 + 1):
        if len(secret) % unit == 0 and secret[:unit] * (len(secret) // unit) == secret:
            return Message("it repeats a short sequence")
    return None


class Settings(BaseSettings):
    """Every field is described: the descriptions are the configuration reference."""

    model_config = SettingsConfigDict(env_prefix="PASSERELLE_", extra="ignore", frozen=True)

    env: Literal["dev", "test", "production"] = Field(
        default="production",
        description="Deployment kind. `dev` allows the default secret key and plain-HTTP cookies.",
    )
    data_dir: Path = Field(
        default=Path("./var"), description="Folder for the SQLite file, content and indices."
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL. Default: SQLite at DATA_DIR/passerelle.db. "
        "PostgreSQL: postgresql+psycopg://user:password@host/db.",
    )
    secret_key: str = Field(
        default=DEFAULT_SECRET_KEY,
        min_length=32,
        description="Secret for CSRF tokens, signed links, the sealed agency keys, the content"
        " store and the audit chain's key: at least 32 characters, at least 10 different ones,"
        " no surrounding spaces, not a short sequence repeated (checked outside dev). Generate"
        " one with `python -c 'import secrets; print(secrets.token_urlsafe(32))'`.",
    )
    host: str = Field(default="127.0.0.1", description="Address the console listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port the console listens on.")
    web_concurrency: int = Field(
        default=6,
        ge=1,
        le=256,
        description="Requests the server works on at once; the others wait their turn, in"
        " order of arrival (more at once only take turns at Python's interpreter lock).",
    )
    web_workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Server processes answering the console and the API (`serve --workers`"
        " too). Each one works on WEB_CONCURRENCY requests at once and takes its own memory;"
        " more than one lets the server use more than one processor core.",
    )
    access_log: bool = Field(
        default=False,
        description="Log one line per request answered (method, path, status). Errors are"
        " logged in any case, each with the reference shown on its error page.",
    )
    default_locale: Literal["fr", "en"] = Field(
        default="fr", description="Language of the console for people who have not chosen one."
    )
    cookie_secure: bool | None = Field(
        default=None,
        description="Send cookies only over HTTPS. Default: true except in dev.",
    )
    session_hours: int = Field(
        default=10, ge=1, le=24 * 30, description="How long a console login lasts, in hours."
    )
    login_max_failures: int = Field(
        default=5, ge=1, le=100, description="Failed logins in a row before an account is locked."
    )
    login_lockout_minutes: int = Field(
        default=15, ge=1, le=24 * 60, description="How long a locked account stays locked."
    )

    fetch_allow: str = Field(
        default="",
        description="Comma-separated IP networks the fetcher may reach although they are not"
        " public (for tests serving pages on 127.0.0.1). Empty in production.",
    )
    partner_allow: str = Field(
        default="",
        description="Comma-separated IP networks where partners' Passerelles may be reached"
        " although they are not public (a partner on the same private network; the demo and"
        " tests on 127.0.0.1). Set by the instance's administrator only; empty: partners must"
        " be on public addresses, checked like every fetched address.",
    )
    fetch_max_bytes: int = Field(
        default=20 * 1024 * 1024, ge=1024, description="Largest body the fetcher reads, in bytes."
    )
    fetch_timeout_seconds: float = Field(
        default=20.0, gt=0, le=300, description="Time limit of one fetch, redirects included."
    )
    fetch_max_redirects: int = Field(
        default=5, ge=0, le=20, description="Redirects the fetcher follows, each one re-checked."
    )
    exchange_window_seconds: int = Field(
        default=300,
        ge=30,
        le=3600,
        description="How old (or how far ahead) a partner's signed document or request may be;"
        " older ones, and any whose nonce was seen already, are refused as replays. Documents"
        " received by file drop (`partner receive`) may be up to 7 days old.",
    )
    scan_max_pixels: int = Field(
        default=50_000_000, ge=1, description="Largest image decoded for PDQ, in pixels."
    )
    scan_max_bytes: int = Field(
        default=200 * 1024 * 1024, ge=1, description="Largest file or archive record scanned."
    )
    video_seconds_per_frame: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="vPDQ hashes one video frame every this many seconds (0: every frame).",
    )
    video_max_seconds: float = Field(
        default=4 * 3600.0, gt=0, description="Only this many seconds of a video are hashed."
    )
    video_max_frames: int = Field(
        default=20_000, ge=1, description="Only this many frames of a video are hashed."
    )
    video_max_frame_pixels: int = Field(
        default=4096 * 4096, ge=1, description="Videos with larger frames are refused, in pixels."
    )

    match_max_bytes: int = Field(
        default=20 * 1024 * 1024,
        ge=1,
        description="Largest file sent to POST /api/v1/match (larger ones get 413).",
    )

    retention_days: int = Field(
        default=183,
        ge=1,
        le=3650,
        description="Days preserved content is kept after the item went offline (6 months by"
        " default); a legal hold extends it.",
    )
    content_grace_seconds: int = Field(
        default=900,
        ge=0,
        le=7 * 24 * 3600,
        description="Age after which preserved content that no item refers to (left by a"
        " crashed write) is swept away; younger files may belong to a write still running.",
    )
    public_url: str = Field(
        default="",
        description="Address of this instance as hosting providers reach it: the signed links"
        " of notices start with it. Default: http://HOST:PORT of the server.",
    )
    public_agency: str = Field(
        default="",
        description="Code of the agency that receives reports from the public form (/signaler,"
        " /report); empty: the form is closed.",
    )
    public_reports_per_hour: int = Field(
        default=5, ge=1, le=1000, description="Reports accepted per hour from one address."
    )
    prevention_fr: str = Field(
        default=(
            "Vous vous inquiétez pour un proche qui se radicalise ? En France : numéro vert"
            " Stop Djihadisme 0 800 005 696. Au Québec : Centre de prévention de la"
            " radicalisation menant à la violence (CPRMV), 514 687-7141 ou 1 877 687-7141."
        ),
        description="Prevention resources shown after a report, in French.",
    )
    prevention_en: str = Field(
        default=(
            "Worried about someone close to you becoming radicalised? In France: Stop"
            " Djihadisme free line 0 800 005 696. In Québec: Centre for the Prevention of"
            " Radicalization Leading to Violence (CPRMV), 514 687-7141 or 1 877 687-7141."
        ),
        description="Prevention resources shown after a report, in English.",
    )
    smtp_host: str = Field(default="", description="SMTP server for notices; empty: no sending.")
    smtp_port: int = Field(default=25, ge=1, le=65535, description="SMTP port.")
    smtp_from: str = Field(default="passerelle@localhost", description="Sender address of notices.")
    smtp_starttls: bool = Field(default=False, description="Upgrade the connection with STARTTLS.")
    smtp_username: str = Field(default="", description="SMTP login, if the server asks for one.")
    smtp_password: str = Field(default="", description="SMTP password.")

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.env != "dev" and self.secret_key == DEFAULT_SECRET_KEY:
            raise SettingRefused(
                Message("PASSERELLE_SECRET_KEY must be set outside dev (the default key is public)")
            )
        weakness = secret_weakness(self.secret_key)
        if self.env != "dev" and weakness is not None:
            raise SettingRefused(
                Message("PASSERELLE_SECRET_KEY is too weak: %(weakness)s", {"weakness": weakness})
            )
        return self

    def video_limits(self) -> VideoLimits:
        return VideoLimits(
            seconds_per_frame=self.video_seconds_per_frame,
            max_seconds=self.video_max_seconds,
            max_frames=self.video_max_frames,
            max_frame_pixels=self.video_max_frame_pixels,
        )

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'passerelle.db'}"

    @property
    def content_dir(self) -> Path:
        return self.data_dir / "content"

    @property
    def index_dir(self) -> Path:
        """The match indexes, one folder per agency (rebuilt from the database when lost)."""
        return self.data_dir / "index"

    @property
    def secure_cookies(self) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.env != "dev"


# Where `passerelle serve --workers N` passes its settings (as JSON) to its worker processes.
WORKER_SETTINGS = "_PASSERELLE_WORKER_SETTINGS"


class SettingRefused(ValueError):
    """A value of the settings refused by a rule of ours, with the message that says why."""

    def __init__(self, message: Message) -> None:
        super().__init__(message.english())
        self.message = message


# What pydantic says of a bad value, as message ids (pydantic speaks English only), with the
# name of the limit its context gives.
_PROBLEMS: dict[str, tuple[str, str | None]] = {
    "int_parsing": ("%(setting)s must be a whole number", None),
    "int_from_float": ("%(setting)s must be a whole number", None),
    "float_parsing": ("%(setting)s must be a number", None),
    "bool_parsing": ("%(setting)s must be true or false", None),
    "greater_than_equal": ("%(setting)s must be at least %(limit)s", "ge"),
    "greater_than": ("%(setting)s must be more than %(limit)s", "gt"),
    "less_than_equal": ("%(setting)s must be at most %(limit)s", "le"),
    "less_than": ("%(setting)s must be less than %(limit)s", "lt"),
    "string_too_short": ("%(setting)s must have at least %(limit)s characters", "min_length"),
    "literal_error": ("%(setting)s must be one of: %(limit)s", None),
}


def _problem(error: Any) -> Message:
    """One refused value as a message naming the variable (its value is not repeated: it may
    be a secret)."""
    loc = [str(part) for part in error["loc"] if part != "__root__"]
    context = error.get("ctx") or {}
    if isinstance(context.get("error"), SettingRefused):
        refused: Message = context["error"].message
        return refused
    setting = "PASSERELLE_" + loc[0].upper() if loc else "PASSERELLE_*"
    known = _PROBLEMS.get(str(error["type"]))
    if known is None:
        problem = str(error["msg"]).removeprefix("Value error, ")
        return Message("%(setting)s: %(problem)s", {"setting": setting, "problem": problem})
    template, limit = known
    values: dict[str, str | int | float | bool | Message] = {"setting": setting}
    if limit is not None:
        values["limit"] = str(context.get(limit, ""))
    elif error["type"] == "literal_error" and loc:
        values["limit"] = ", ".join(get_args(Settings.model_fields[loc[0]].annotation))
    return Message(template, values)


def load_settings(**overrides: object) -> Settings:
    """Build the settings from the environment; a bad value raises `InvalidInput` naming the
    variable and saying what is wrong with it (several: one after the other)."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = [_problem(error) for error in exc.errors()]
        said = problems[-1]
        for problem in reversed(problems[:-1]):
            said = Message("%(problem)s; %(more)s", {"problem": problem, "more": said})
        raise InvalidInput(said.template, **dict[str, Any](said.params)) from None
