"""Every setting and limit of the service, in one place.

Each field reads from the environment as ``SCAISPEAK_<NAME>`` (nested groups use
``__``, e.g. ``SCAISPEAK_LIMITS__INLINE_MAX_CHARS``). ``docs/configuration.md`` lists
them; nothing else in the code base reads ``os.environ``.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import BaseModel, Field, computed_field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Limits(BaseModel):
    """Request limits. Documented in docs/configuration.md."""

    inline_max_chars: int = Field(
        5_000, description="Longest text /speak synthesizes inline (characters)."
    )
    openai_max_chars: int = Field(
        4_096, description="Longest `input` accepted by /v1/audio/speech (OpenAI's own limit)."
    )
    max_request_bytes: int = Field(
        1_000_000, description="Largest JSON body accepted by the speak endpoints."
    )
    min_speed: float = Field(0.5, description="Slowest speaking rate accepted.")
    max_speed: float = Field(2.0, description="Fastest speaking rate accepted.")
    sample_rates: tuple[int, ...] = Field(
        (8_000, 16_000, 22_050, 24_000, 44_100, 48_000),
        description="Output sample rates a caller may request.",
    )
    page_size_max: int = Field(100, description="Largest page size for list endpoints.")
    token_ttl_seconds: int = Field(
        300, description="Lifetime of browser tokens from POST /v1/auth/tokens (max)."
    )


class EngineSettings(BaseModel):
    """How the self-hosted engines run."""

    enabled: tuple[str, ...] = Field(("piper", "kokoro"), description="Engines loaded at start-up.")
    inference_threads: int = Field(
        2, description="Worker threads that run inference off the event loop."
    )
    onnx_intra_op_threads: int = Field(
        0, description="onnxruntime intra-op threads per session (0 = library default)."
    )
    max_clause_chars: int = Field(
        220, description="Sentences longer than this are split at clause boundaries."
    )
    sentence_pause_ms: int = Field(250, description="Silence inserted between sentences.")
    clause_pause_ms: int = Field(120, description="Silence inserted between clauses.")
    target_lufs: float = Field(-20.0, description="Loudness the output is normalised to.")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SCAISPEAK_", env_nested_delimiter="__", extra="ignore"
    )

    data_dir: Path = Field(Path("./data"), description="Where SQLite, blobs and caches live.")
    database_url: str | None = Field(
        None, description="SQLAlchemy async URL; default is SQLite in the data dir."
    )
    host: str = "127.0.0.1"
    port: int = 8000
    secret_key: str | None = Field(
        None,
        description="Signs browser tokens. Generated and kept in the data dir when unset.",
    )
    bootstrap_on_start: bool = Field(
        True, description="Create a superadmin, tenant and key on first start."
    )
    log_level: str = "info"
    api_key: str | None = Field(
        None, description="Client side: the key `scaispeak say/voices --server` sends."
    )
    limits: Limits = Field(default_factory=Limits)
    engines: EngineSettings = Field(default_factory=EngineSettings)

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

    def resolved_secret_key(self) -> str:
        """The token-signing key: configured, or generated once and kept on disk."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()
