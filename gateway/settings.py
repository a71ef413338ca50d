"""Configuration, read from ``GATEWAY_*`` environment variables (or a ``.env`` file)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

MAX_ACCESS_TOKEN_LIFETIME_S = 300


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Every setting the gateway reads; see the README for the reference table."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///var/gateway.db",
        description="SQLAlchemy URL (SQLite file by default; postgresql+psycopg://...)",
    )
    database_pool_size: int = Field(
        default=10,
        ge=1,
        le=200,
        description="Database connections a process keeps open for its requests and jobs.",
    )
    allow_sqlite: bool = Field(
        default=False,
        description="Allow a SQLite database in production (a small site on one host).",
    )
    key_dir: Path = Field(
        default=Path("var/keys"),
        description="Directory holding the gateway's private keys and secrets.",
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="The URL clients use to reach the gateway: issuer, audience and DPoP target.",
    )
    access_token_lifetime_s: int = Field(default=300, ge=30, le=MAX_ACCESS_TOKEN_LIFETIME_S)
    client_assertion_max_lifetime_s: int = Field(
        default=300,
        ge=30,
        le=3600,
        description="Longest exp - iat accepted in a client assertion.",
    )
    clock_leeway_s: int = Field(default=30, ge=0, le=300)
    dpop_proof_max_age_s: int = Field(default=120, ge=10, le=600)
    environment: Environment = Environment.DEVELOPMENT
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_import_bytes: int = Field(
        default=4 * 1024**3, ge=1024, description="Largest backlog file one import takes."
    )
    max_stream_bytes: int = Field(
        default=4 * 1024**3,
        ge=1024,
        description="Largest body of a streamed sweep of status checks (NDJSON).",
    )
    log_level: str = "INFO"
    policy_file: Path | None = Field(
        default=None, description="The policy in force; the shipped default when unset."
    )
    batch_max_records: int = Field(
        default=5000, ge=1, le=100_000, description="Records per batch; a backlog splits."
    )
    seal_express_seconds: int = Field(
        default=300, ge=10, description="How often the express classes are sealed."
    )
    seal_regular_seconds: int = Field(
        default=3600, ge=10, description="How often everything pending is sealed."
    )
    push_interval_seconds: int = Field(
        default=15, ge=1, description="How often the worker pushes to push funds."
    )
    push_timeout_seconds: float = Field(
        default=30,
        gt=0,
        description="Each step of a push attempt: connecting, each write, each read.",
    )
    push_attempt_seconds: float = Field(
        default=60,
        gt=0,
        description="One push attempt in all (connect, send, the whole answer); then it fails.",
    )
    push_concurrency: int = Field(
        default=4,
        ge=1,
        le=32,
        description="Push funds served at once, each on a thread and a database connection.",
    )
    push_max_attempts: int = Field(
        default=8, ge=1, description="Consecutive failures before a push fund is parked."
    )
    push_backoff_base_seconds: float = Field(default=5, gt=0)
    push_backoff_cap_seconds: float = Field(
        default=3600, gt=0, description="Longest wait between attempts; a parked fund's probe."
    )
    push_client_cert: Path | None = Field(
        default=None, description="Client certificate (PEM) for mutual TLS to push endpoints."
    )
    push_client_key: Path | None = Field(default=None, description="Its private key (PEM).")
    status_checks_per_agent: int = Field(
        default=100_000, ge=1, description="Status checks one agent may make per window."
    )
    status_checks_per_fund: int = Field(
        default=10_000_000, ge=1, description="Status checks one fund may make per window."
    )
    status_check_window_seconds: int = Field(default=3600, ge=1, le=86_400)
    audit_sequence_seconds: int = Field(
        default=5, ge=1, description="How often queued audit events are appended to the log."
    )
    audit_checkpoint_seconds: int = Field(
        default=60, ge=1, description="How often a checkpoint of the log is signed."
    )
    import_poll_seconds: int = Field(
        default=2, ge=1, description="How often the worker looks for imports to process."
    )
    import_lease_seconds: int = Field(
        default=60,
        ge=5,
        description="How long an import's worker may be silent before another resumes it.",
    )
    policy_reload_seconds: float = Field(
        default=30, ge=0, description="How often the policy file is checked for changes; 0: never."
    )
    key_reload_seconds: float = Field(
        default=5, ge=0, description="How often the keyring is checked for changes; 0: never."
    )
    key_publish_ahead_seconds: int = Field(
        default=86_400,
        ge=0,
        description="How long a new signing key is published before it signs (keys rotate).",
    )
    key_retired_publish_days: int = Field(
        default=0,
        ge=0,
        description="How long a retired key stays in the JWKS after it retired; 0: for ever.",
    )
    key_max_age_days: int = Field(
        default=365, ge=1, description="The age at which a signing key should have been replaced."
    )
    jwks_max_age_seconds: int = Field(
        default=300,
        ge=0,
        description="Cache-Control max-age of the JWKS; never above a quarter of the "
        "publish-ahead time.",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        min_length=16,
        description="The scrape token of /metrics (Authorization: Bearer); unset: no /metrics.",
    )
    audit_spool_dir: Path = Field(
        default=Path("var/audit-spool"),
        description="Where audit events wait while the database is unavailable (local disk).",
    )

    console_oidc_issuer: str | None = Field(
        default=None,
        description="The auditors' console: its OpenID provider (issuer URL); unset: no console.",
    )
    console_oidc_client_id: str | None = Field(
        default=None, description="The console's client id at its OpenID provider."
    )
    console_oidc_client_secret: SecretStr | None = Field(
        default=None,
        description="The console's client secret (client_secret_basic); or a private key.",
    )
    console_oidc_private_key: Path | None = Field(
        default=None,
        description="The console's private JWK (private_key_jwt), instead of a client secret.",
    )
    console_oidc_scopes: str = Field(
        default="openid", description="The scopes the console asks for (openid at least)."
    )
    console_idle_timeout_seconds: int = Field(
        default=900, ge=1, le=86_400, description="A console session ends after this idleness."
    )
    console_session_lifetime_seconds: int = Field(
        default=36_000,
        ge=60,
        le=7 * 86_400,
        description="A console session ends this long after its login.",
    )
    console_login_seconds: int = Field(
        default=600,
        ge=30,
        le=3600,
        description="How long a login at the provider may take.",
    )
    console_access_shown_hours: int = Field(
        default=24,
        ge=1,
        le=168,
        description="How long after its approval a person's access report is shown to its "
        "asker (hours); then its keyed values are cleared.",
    )
    console_access_pending_hours: int = Field(
        default=72,
        ge=1,
        le=720,
        description="How long a person's access report request may wait for its approval "
        "(hours); then it expires and its keyed values are cleared.",
    )
    console_vendor_dir: Path = Field(
        default=Path("node_modules"),
        description="Where the console's front-end packages are (@gouvfr/dsfr, chart.js).",
    )
    console_secure_cookies: bool = Field(
        default=True,
        description="Secure, __Host- cookies; off only for a console served in plain HTTP "
        "on another host than the loopback.",
    )

    @field_validator("database_url")
    @classmethod
    def _parseable_url(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError(
                "not a database URL: expected postgresql+psycopg://USER@HOST/NAME or sqlite:///PATH"
            ) from None
        if url.get_backend_name() not in {"sqlite", "postgresql"}:
            raise ValueError(
                f"unsupported database {url.get_backend_name()!r}: expected postgresql or sqlite"
            )
        return value

    @property
    def on_sqlite(self) -> bool:
        return make_url(self.database_url).get_backend_name() == "sqlite"

    @field_validator("public_base_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _console_in_production(self) -> Settings:
        """In production, the console's provider over HTTPS and its cookies Secure.

        A login over plain HTTP would expose its codes and sessions.
        """
        if self.environment != Environment.PRODUCTION or not self.console_oidc_issuer:
            return self
        if not self.console_oidc_issuer.startswith("https://"):
            raise ValueError("GATEWAY_CONSOLE_OIDC_ISSUER must be an https:// URL in production")
        if not self.console_secure_cookies:
            raise ValueError("GATEWAY_CONSOLE_SECURE_COOKIES cannot be false in production")
        return self

    @property
    def console_enabled(self) -> bool:
        """The console is served once its OpenID provider and client id are set."""
        return bool(self.console_oidc_issuer and self.console_oidc_client_id)

    @property
    def jwks_cache_seconds(self) -> int:
        """The JWKS's max-age: a verifier caching it sees a new key well before it signs."""
        return min(self.jwks_max_age_seconds, self.key_publish_ahead_seconds // 4)

    @property
    def issuer(self) -> str:
        return self.public_base_url

    @property
    def token_endpoint(self) -> str:
        return f"{self.public_base_url}/oauth2/token"

    @property
    def audience(self) -> str:
        return self.public_base_url

    @property
    def audit_log_origin(self) -> str:
        """The log's name in its checkpoints: the gateway's host and path, then /audit-log."""
        return self.public_base_url.split("://", 1)[-1] + "/audit-log"
