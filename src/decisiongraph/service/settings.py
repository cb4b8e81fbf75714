"""Service settings (pydantic-settings, ``DG_`` environment prefix), built once at the
entry point (``decisiongraph serve``, ``create_app``) and passed down; nothing below
the entry point reads the environment.

Every limit of HTTP_API 1.3 and 2.5 is a setting with the contract's default.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from decisiongraph.store.factory import DEFAULT_DATABASE_URL

__all__ = ["MIB", "ServiceSettings"]

MIB = 1024 * 1024


class ServiceSettings(BaseSettings):
    """Configuration of the HTTP service. Environment: ``DG_<FIELD>`` (upper case)."""

    model_config = SettingsConfigDict(env_prefix="DG_", extra="ignore", frozen=True)

    database_url: str = Field(DEFAULT_DATABASE_URL, description="Store URL (sqlite/postgresql).")
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    workers: int = Field(1, ge=1, le=64)
    projector: bool = Field(True, description="Run a projection worker inside the server.")
    pool_size: int = Field(10, ge=1, le=200, description="PostgreSQL connections per pool.")
    request_threads: int = Field(
        32, ge=1, le=512, description="Worker threads running the blocking part of requests."
    )
    request_queue: int = Field(
        512, ge=1, description="Requests running or waiting per process; beyond it 503."
    )

    # Body limits (HTTP_API 1.3; an accepted deviation of the service only, spec 12.2).
    max_event_bytes: int = Field(MIB, ge=1024)
    max_batch_bytes: int = Field(10 * MIB, ge=1024)
    max_batch_events: int = Field(1000, ge=1)
    max_body_bytes: int = Field(64 * 1024, ge=1024)

    # Cursors of opaque-cursor lists are HMAC-signed with this secret. Unset: the
    # secret stored in the database is used (created on first start), so cursors stay
    # valid across restarts and across server processes of one database.
    cursor_secret: str | None = None

    metrics_require_auth: bool = False

    # Server-sent events (HTTP_API 2.5).
    stream_heartbeat_s: float = Field(15.0, gt=0)
    stream_max_duration_s: float = Field(3600.0, gt=0)
    stream_buffer_events: int = Field(1000, ge=1)
    stream_poll_s: float = Field(0.5, gt=0, description="Fallback poll of the log tail.")
    # Below the contract's 15 s so that a revoked key's stream is closed within 15 s
    # even with the time a page takes to send (HTTP_API 2.5, 2.14).
    stream_auth_recheck_s: float = Field(10.0, gt=0)
    stream_max_per_key: int = Field(5, ge=1, description="Concurrent streams per API key.")

    # Seconds a shutdown waits for in-flight requests before closing connections.
    graceful_timeout_s: float = Field(10.0, ge=0)
