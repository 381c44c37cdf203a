"""The one settings object: environment variables (and `.env`), passed into `create_app`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEV_JWT_SECRET = "dev-only-insecure-jwt-secret-change-me"  # noqa: S105 - refused outside dev


class Settings(BaseSettings):
    """Every knob of the service; env var = field name in upper case."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", validate_assignment=True)

    environment: Literal["dev", "test", "production"] = "dev"
    data_dir: Path = Path("./var")
    database_url: str | None = None
    # Not in DESIGN.md: how long a SQLite writer waits for the lock before 503 database_busy.
    sqlite_busy_timeout_ms: int = Field(default=10_000, ge=0)
    # Not in DESIGN.md: connections per process (pool, then overflow) and how long a request
    # waits for one before 503 database_busy. Turns hold one only between model calls.
    db_pool_size: int = Field(default=20, ge=1)
    db_max_overflow: int = Field(default=20, ge=0)
    db_pool_timeout_s: float = Field(default=10.0, gt=0)
    # Not in DESIGN.md: how long PostgreSQL may stay silent (connecting, or answering one
    # statement) before the connection is dropped and the request gets 503 database_busy.
    db_answer_timeout_s: float = Field(default=30.0, gt=0)
    # Where people reach the service (links in mails). Unset: the address `serve` listens on.
    public_url: str | None = None

    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwt_expire_minutes: int = Field(default=60, ge=1)
    # How long a web page's sign-in lasts without a visit (its HttpOnly refresh cookie).
    refresh_expire_days: int = Field(default=30, ge=1)
    email_token_expire_minutes: int = Field(default=60 * 24, ge=1)
    require_email_verification: bool = False
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=8)
    argon2_parallelism: int = Field(default=4, ge=1)
    first_admin_email: str | None = None
    first_admin_password: SecretStr | None = None

    llm_base_url: str = "https://api.openai.com/v1"
    llm_api_key: SecretStr | None = None
    llm_model: str = "gpt-4o-mini"
    llm_timeout_s: float = Field(default=60.0, gt=0)
    llm_max_retries: int = Field(default=2, ge=0)
    # One overall deadline for a model call and all its retries.
    llm_deadline_s: float = Field(default=60.0, gt=0)
    # Not in DESIGN.md: the longest Retry-After we wait for (longer: the 429 goes to the client at
    # once), and the size of the one connection pool to the provider.
    llm_retry_max_wait_s: float = Field(default=20.0, ge=0)
    llm_max_connections: int = Field(default=100, ge=1)
    embedding_model: str | None = None
    agent_max_steps: int = Field(default=8, ge=1)
    sse_heartbeat_s: float = Field(default=15.0, gt=0)  # not in DESIGN.md: SSE comment interval

    max_upload_bytes: int = Field(default=50 * 1024 * 1024, ge=1)
    # Every request body other than an upload is refused past this size while it is read (413).
    max_json_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Where uploaded files live: unset = a folder under DATA_DIR; `s3://bucket/prefix` = an
    # S3-compatible object store, so replicas and workers on other hosts share no disk.
    storage_url: str | None = None
    # Tokens a user's runs may use per UTC day (unset: no quota).
    user_daily_token_quota: int | None = Field(default=None, ge=1)
    # Not in DESIGN.md: the tokens a run holds from admission to its end, under a quota; the day's
    # count passes the quota by at most this much, however many turns start at once.
    run_token_reservation: int = Field(default=2000, ge=1)
    # Not in DESIGN.md: how long a request repeating an Idempotency-Key whose first request is
    # still working waits for its result before 409 `idempotency_key_in_use`.
    idempotency_wait_s: float = Field(default=30.0, gt=0)
    # Turns one process runs at once; past it a new turn is 503 `overloaded` with Retry-After.
    # Measured (benchmarks/bench_streams.py, docs/deployment.md): one process carries about 80
    # streams at a model's pace per core; at 128 the first token of 100 streams came 2.5x later.
    max_active_turns: int = Field(default=64, ge=1)
    # Runs. How often an owner renews its runs' lease (and polls for cancels NOTIFY missed), how
    # long a lease lasts before another replica takes the run over or ends it `interrupted`
    # (kill -9 to the run moving again: at most lease + heartbeat, 7.5 s by default), how often
    # a run's buffered events are written, and a follower's poll between wake-ups.
    run_heartbeat_s: float = Field(default=1.5, gt=0)
    run_lease_s: float = Field(default=6.0, gt=0)
    run_event_batch_s: float = Field(default=0.1, gt=0)
    run_poll_s: float = Field(default=1.0, gt=0)
    # How long a run retries storing its final answer (a locked or failing database) before it
    # ends `failed` with the answer kept in its events.
    run_final_store_s: float = Field(default=10.0, gt=0)
    # How long a live stream keeps reading again while the database does not answer before it
    # ends with `error database_busy` (the client resumes with Last-Event-ID).
    run_follow_patience_s: float = Field(default=120.0, gt=0)

    # Bring your own tools: how long one MCP server call (listing or a tool call) may take before
    # it is a tool error the model sees, and how long a server's tool list is cached.
    mcp_timeout_s: float = Field(default=20.0, gt=0)
    mcp_tools_ttl_s: float = Field(default=60.0, ge=0)
    # An assistant's MCP server URL may lead to a private, loopback or link-local address only
    # when this is set (a user must not make the service call its own network).
    mcp_allow_private: bool = False
    # How often each replica looks for due schedule ticks (a tick starts once across replicas).
    schedule_poll_s: float = Field(default=1.0, gt=0)
    # Completion webhooks: private, loopback and link-local targets are refused unless this is set
    # (checked after DNS resolution).
    webhook_allow_private: bool = False

    # Security: hosts the service answers for in production (unset: any; "a.example,b.example"),
    # where /metrics is served (unset: the main port, behind METRICS_TOKEN when that is set;
    # "127.0.0.1:9100": a separate listener and not on the public port), failed logins before
    # back-off, and the threads that hash passwords (0: one per core).
    trusted_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    metrics_bind: str | None = None
    metrics_token: SecretStr | None = None
    login_max_failures: int = Field(default=5, ge=1)
    # A refused (429) login is answered after min(its wait, this) seconds, holding nothing but a
    # sleeping coroutine: a client hammering a blocked account gets one answer a second per
    # connection instead of hundreds, which kept the event loop busy for every other request.
    login_refusal_hold_s: float = Field(default=1.0, ge=0, le=10)
    password_hash_workers: int = Field(default=0, ge=0)

    mail_backend: Literal["file", "console", "smtp"] = "file"
    mail_dir: Path | None = None
    mail_from: str = "agent-service@localhost"
    smtp_host: str = "localhost"
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True

    github_webhook_secret: SecretStr | None = None
    github_token: SecretStr | None = None
    github_api_url: str = "https://api.github.com"
    # "owner/name,owner/other" (or a JSON list) in the environment
    github_repositories: Annotated[list[str], NoDecode] = Field(default_factory=list)
    github_webhook_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)

    job_runner: Literal["inline", "procrastinate"] = "inline"
    # Not in DESIGN.md: attempts before a job (and its document) is marked failed, the base of the
    # exponential retry backoff, the lease a running job renews (a job whose process died is taken
    # over when it runs out), how often the in-process runner looks for due jobs, and how many it
    # runs at once.
    job_max_attempts: int = Field(default=5, ge=1)
    job_retry_backoff_s: float = Field(default=2.0, ge=0)
    job_lease_s: float = Field(default=30.0, gt=0)
    job_poll_interval_s: float = Field(default=1.0, gt=0)
    job_concurrency: int = Field(default=2, ge=1)
    log_level: str = "INFO"
    # text: readable lines for a terminal; json: one object per line for a log shipper.
    # Unset: text in dev, json otherwise.
    log_format: Literal["text", "json"] | None = None

    @field_validator("github_repositories", "trusted_hosts", mode="before")
    @classmethod
    def _split_repositories(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _refuse_dev_secret_outside_dev(self) -> Settings:
        if self.environment != "dev" and self.jwt_secret.get_secret_value() == DEV_JWT_SECRET:
            raise ValueError(
                "JWT_SECRET is the built-in development secret; set JWT_SECRET to a long random "
                "value (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)."
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        """The SQLAlchemy async URL: `DATABASE_URL` normalised, or the embedded SQLite file."""
        if not self.database_url:
            return f"sqlite+aiosqlite:///{self.data_dir / 'agent_service.db'}"
        url = self.database_url
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        if url.startswith("sqlite://"):
            return "sqlite+aiosqlite://" + url[len("sqlite://") :]
        return url

    @property
    def resolved_public_url(self) -> str:
        """The base of links in mails: `PUBLIC_URL`, else the default address of `serve`."""
        return (self.public_url or "http://127.0.0.1:8000").rstrip("/")

    @property
    def resolved_log_format(self) -> Literal["text", "json"]:
        if self.log_format is not None:
            return self.log_format
        return "text" if self.environment == "dev" else "json"

    @property
    def resolved_mail_dir(self) -> Path:
        return self.mail_dir if self.mail_dir is not None else self.data_dir / "mail"
