"""Settings from OPENLINQ_* environment variables (and CLI flags)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from openlinq.store.engine import sqlite_url_for

# Hosted mode refuses shorter API keys given in settings: they could be guessed.
MIN_SECRET_LENGTH = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPENLINQ_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    data_dir: Path = Path("./.openlinq")
    database_url: str | None = None
    dev_api_key: str | None = None
    # "manual" freezes time until POST /sim/v1/clock/advance moves it: every
    # simulated delay and retry then happens exactly when a test says so.
    clock: Literal["real", "manual"] = "real"
    # Run the background job runner in this process (turn off for API-only replicas).
    run_worker: bool = True
    # API processes of `openlinq serve` sharing its port (more than one needs PostgreSQL).
    workers: int = Field(default=1, ge=1)
    public_url: str | None = None
    # Largest JSON request body accepted (attachment uploads are limited by their declared size).
    max_request_bytes: int = Field(default=1024 * 1024, gt=0)
    # HTTP connections: a request head must arrive whole within header_timeout_seconds of
    # its first byte (or of the connection opening); an idle keep-alive connection closes
    # after keep_alive_seconds; past max_connections open at once, requests get 503 / 3001.
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    keep_alive_seconds: int = Field(default=5, ge=1)
    max_connections: int = Field(default=1000, ge=1)
    # A claimed job whose worker died becomes claimable again after this long.
    job_lease_seconds: float = Field(default=60.0, gt=0)
    # A webhook attempt, from connecting to the end of the answer, must finish within this.
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    # A media file fetched by URL must be downloaded completely within this (any other
    # outbound fetch too): a server that drips bytes cannot hold a send request longer.
    fetch_deadline_seconds: float = Field(default=30.0, gt=0)
    webhook_endpoint_concurrency: int = Field(default=4, ge=1)
    # Disable a subscription whose endpoint has failed without a success for this long.
    webhook_disable_after_hours: float = Field(default=72.0, gt=0)
    # Hosted deployments: webhooks and media URLs must be HTTPS and may not point at
    # private, loopback or link-local addresses; no simulator control API (unless an
    # operator key is set), no job-running endpoint, no implicit sandbox account, and
    # a dev key (if any) of at least MIN_SECRET_LENGTH characters.
    hosted_mode: bool = False
    # Hosted mode only: requests to /sim/v1 must carry this in X-Operator-Key.
    operator_api_key: str | None = None
    # Serve /docs, /redoc (and their assets under /static/docs) and /openapi.json.
    api_docs: bool = True
    # Attachment bytes go to <data_dir>/attachments unless an S3 bucket is named.
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_prefix: str = ""
    log_level: str = "info"
    # "text" for a person, "json" (one object per line) for a log shipper.
    log_format: Literal["text", "json"] = "text"
    # One line per request (method, path, status, ms, trace id); unset: on, except in
    # hosted mode, where a proxy in front usually keeps the access log.
    access_log: bool | None = None
    # GET /metrics (Prometheus) and the per-request timing behind it; off: neither.
    metrics: bool = True
    # Bearer token /metrics requires. Hosted mode: without one, there is no /metrics.
    metrics_token: str | None = None
    # The Fernet key sealing carrier secrets (delivery/sealing.py); unset: <data_dir>/carrier.key.
    # Every process of one deployment needs the same key.
    carrier_key: str | None = None

    @model_validator(mode="after")
    def _hosted_secrets_are_long(self) -> Settings:
        if self.hosted_mode:
            for name in ("dev_api_key", "operator_api_key", "metrics_token"):
                value = getattr(self, name)
                if value is not None and len(value) < MIN_SECRET_LENGTH:
                    raise ValueError(
                        f"OPENLINQ_{name.upper()} must be at least {MIN_SECRET_LENGTH} "
                        "characters in hosted mode"
                    )
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or sqlite_url_for(self.data_dir.resolve())

    @property
    def access_log_enabled(self) -> bool:
        return self.access_log if self.access_log is not None else not self.hosted_mode

    @property
    def metrics_exposed(self) -> bool:
        """Whether /metrics is served: hosted mode never serves it without a token."""
        return self.metrics and (self.metrics_token is not None or not self.hosted_mode)

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"


def settings_error(error: ValidationError) -> str:
    """A settings failure as one line an operator can act on."""
    return "; ".join(
        str(e["msg"]).removeprefix("Value error, ")
        + (f" ({'.'.join(map(str, e['loc']))})" if e["loc"] else "")
        for e in error.errors()
    )
