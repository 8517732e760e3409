"""Every setting and limit of the service: the top level here, each group in its module.

Each field reads from the environment as ``SCAISPEAK_<NAME>`` (nested groups use
``__``, e.g. ``SCAISPEAK_LIMITS__INLINE_MAX_CHARS``). ``docs/configuration.md`` lists
them; nothing else in the code base reads ``os.environ``.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, computed_field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from scaispeak.settings.engines import BackendSettings, EngineSettings, RelaySettings
from scaispeak.settings.limits import AccountingSettings, JobSettings, Limits
from scaispeak.settings.streaming import IceServer, StreamingSettings, WebRtcSettings
from scaispeak.settings.voices import CloningSettings, ProvenanceSettings, VoicesSettings

__all__ = [
    "AccountingSettings",
    "BackendSettings",
    "CloningSettings",
    "ConfigurationError",
    "EngineSettings",
    "IceServer",
    "JobSettings",
    "Limits",
    "ProvenanceSettings",
    "RelaySettings",
    "Settings",
    "StreamingSettings",
    "VoicesSettings",
    "WebRtcSettings",
]


class ConfigurationError(RuntimeError):
    """Settings that cannot work together (the CLI says so in one line)."""


MIN_SECRET_KEY_BYTES = 32


_ASYNC_DRIVERS = {
    "postgresql+asyncpg": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "sqlite": "sqlite+aiosqlite",
}
"""The databases the service runs on, by the URL schemes they are given as."""


class Settings(BaseSettings):
    # An empty variable is an unset one: compose files and systemd EnvironmentFiles
    # "unset" a setting that way (an empty REDIS_URL meant distributed to some code).
    model_config = SettingsConfigDict(
        env_prefix="SCAISPEAK_", env_nested_delimiter="__", extra="ignore", env_ignore_empty=True
    )

    data_dir: Path = Field(Path("./data"), description="Where SQLite, blobs and caches live.")
    database_url: str | None = Field(
        None,
        description="Database URL: `postgresql+asyncpg://user@host/db` (`postgresql://` "
        "and `postgres://` are read so, and libpq's `?sslmode=` as asyncpg's `?ssl=`) or "
        "`sqlite+aiosqlite:///path`; default is SQLite in the data dir.",
    )
    host: str = Field("127.0.0.1", description="Interface `scaispeak serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `scaispeak serve` listens on.")
    secret_key: str | None = Field(
        None,
        description="Signs browser tokens and webhook events; at least 32 bytes (e.g. "
        "`openssl rand -base64 48`). Generated and kept in the data dir when unset.",
    )
    bootstrap_on_start: bool = Field(
        True, description="Create a superadmin, tenant and key on first start."
    )
    storage_url: str | None = Field(
        None,
        description="Blob storage: unset = `<data_dir>/blobs`; `file:///abs/dir`; or "
        "`s3://bucket/prefix?endpoint=http://host:9000&region=us-east-1`.",
    )
    storage_access_key_id: str | None = Field(
        None, description="S3 access key id (unset: the AWS_* environment or instance role)."
    )
    storage_secret_access_key: SecretStr | None = Field(None, description="S3 secret access key.")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info",
        description="debug, info, warning or error (JSON lines). At debug the server also "
        "logs streams' WebSocket text frames (callers' words): not for production.",
    )
    engine_device: Literal["cpu", "cuda", "auto"] | None = Field(
        None, description="Alias of `SCAISPEAK_ENGINES__DEVICE` (the shorter name); wins when set."
    )
    api_key: str | None = Field(
        None, description="Client side: the key `scaispeak say/voices --server` sends."
    )
    redis_url: str | None = Field(
        None,
        description="Redis for the job queue and the shared per-tenant limits in "
        "distributed mode; set SCAISPEAK_SECRET_KEY with it.",
    )
    policy_cache_s: float = Field(
        5.0,
        ge=0,
        description="How long a replica keeps a tenant's backend and watermark policies "
        "before reading them again. A change saved through a replica applies there at "
        "once, on other replicas within this time. 0: read on every request.",
    )
    limits: Limits = Field(default_factory=Limits)
    accounting: AccountingSettings = Field(default_factory=AccountingSettings)
    backends: BackendSettings = Field(default_factory=BackendSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    engines: EngineSettings = Field(default_factory=EngineSettings)
    streaming: StreamingSettings = Field(default_factory=StreamingSettings)
    webrtc: WebRtcSettings = Field(default_factory=WebRtcSettings)
    voices: VoicesSettings = Field(default_factory=VoicesSettings)
    cloning: CloningSettings = Field(default_factory=CloningSettings)
    provenance: ProvenanceSettings = Field(default_factory=ProvenanceSettings)

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, url: str | None) -> str | None:
        """A URL redis-py takes; any other was a traceback at start. Only the scheme is
        named: the rest may hold a password."""
        scheme = (url or "").partition("://")[0].lower()
        if url and scheme not in ("redis", "rediss", "unix"):
            raise ValueError(f"use redis://host:6379/0 or rediss://… (got the scheme {scheme!r})")
        return url

    @field_validator("log_level", mode="before")
    @classmethod
    def _any_case(cls, level: object) -> object:
        return level.lower() if isinstance(level, str) else level

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, url: str | None) -> str | None:
        """The URL with its async driver: the plain forms every other tool takes ended
        in a traceback ("No module named 'psycopg'"); any other database is refused."""
        if not url:
            return url
        scheme, sep, rest = url.partition("://")
        driver = _ASYNC_DRIVERS.get(scheme.lower())
        if not sep or driver is None:
            raise ValueError(
                "use postgresql+asyncpg://user@host/db or sqlite+aiosqlite:///path "
                f"(got the scheme {scheme!r})"
            )
        if driver.startswith("postgresql"):
            # Managed hosts' URLs end in libpq's ?sslmode=require; asyncpg calls it ssl
            # (same values), and refused sslmode with a TypeError traceback.
            rest = re.sub(r"([?&])sslmode=", r"\1ssl=", rest)
            if not rest.partition("?")[0].partition("/")[2]:
                # libpq's defaults filled in the rest: "postgresql://" made the service's
                # tables in whatever database the user's name picked (helper-84).
                raise ValueError("name the database: postgresql+asyncpg://user@host/db")
        return f"{driver}://{rest}"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'scaispeak.db').resolve()}"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    def make_data_dir(self) -> Path:
        """The data directory, made readable by its owner only when this makes it: it
        holds voices' reference recordings, jobs' audio and the embedded database."""
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(mode=0o700, exist_ok=True)
        return self.data_dir

    def make_database_dir(self) -> None:
        """The folder a SQLite database's file needs (the data directory's, or the one its
        URL names); nothing for PostgreSQL, which keeps nothing on local disk (its
        migrate and bootstrap left an empty ``./data`` behind)."""
        if not self.database_url:
            self.make_data_dir()
        elif self.resolved_database_url.startswith("sqlite"):
            database_file = self.resolved_database_url.partition(":///")[2]
            if database_file and database_file != ":memory:":
                Path(database_file).parent.mkdir(parents=True, exist_ok=True)

    def resolved_secret_key(self) -> str:
        """The token-signing key: configured, or generated once and kept on disk.

        Past one machine it must be configured: each process would otherwise sign
        browser tokens and webhook events with a key of its own data directory, and
        tokens would work on one replica only, webhook signatures verify for none.
        """
        if self.secret_key:
            if len(self.secret_key.encode()) < MIN_SECRET_KEY_BYTES:
                # HMAC-SHA256 with a short key: one browser token or signed webhook
                # event is enough to find it offline, then to forge either.
                raise ConfigurationError(
                    f"SCAISPEAK_SECRET_KEY must be at least {MIN_SECRET_KEY_BYTES} bytes "
                    "(e.g. `openssl rand -base64 48`): a short key can be found from one "
                    "token or webhook signature."
                )
            return self.secret_key
        if self.redis_url:
            raise ConfigurationError(
                "SCAISPEAK_SECRET_KEY must be set, the same on every process, when "
                "SCAISPEAK_REDIS_URL is (docs/deploy.md): it signs browser tokens and "
                "webhook events, which every replica and worker must agree on."
            )
        path = self.data_dir / "secret.key"
        if not path.exists():
            self.make_data_dir()
            # Written whole, readable by its owner only, then linked into place: never
            # readable by others, and never read half-written by a process starting
            # alongside (the link fails if that one was first; its key stands).
            fd, staged = tempfile.mkstemp(dir=path.parent, prefix=".secret.")
            try:
                with os.fdopen(fd, "w") as key_file:
                    key_file.write(secrets.token_urlsafe(48))
                with contextlib.suppress(FileExistsError):
                    os.link(staged, path)
            finally:
                os.unlink(staged)
        return path.read_text().strip()
