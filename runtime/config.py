"""Settings, read once from the environment at the edge (CLI, WSGI entry point)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

DEFAULT_INSTANCE = Path.cwd() / "instance"
MIB = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    database_url: str
    instance_path: Path
    secret_key: str
    attachment_dir: Path
    max_upload_bytes: int = 25 * MIB
    max_request_bytes: int = 30 * MIB
    # How many reverse proxies (TLS terminators) stand in front and may be believed about
    # the client's address and scheme. 0: none — X-Forwarded-* headers are ignored,
    # because anyone can send them.
    proxy_hops: int = 0
    # The clock pages show times on (and read typed date-times in): an IANA zone name.
    timezone: str = "Asia/Shanghai"
    testing: bool = False
    delivery: DeliverySettings = field(default_factory=lambda: DeliverySettings())

    @classmethod
    def from_env(cls, instance_path: Path | None = None, **overrides: Any) -> Settings:
        """Settings from `DATABASE_URL`, `TICKETFLOW_INSTANCE`, `SECRET_KEY` and
        `TICKETFLOW_MAX_UPLOAD_MB`, `TICKETFLOW_PROXY_HOPS`, `TICKETFLOW_TIMEZONE`; the
        embedded default is SQLite in the instance folder."""
        instance = Path(instance_path or os.environ.get("TICKETFLOW_INSTANCE")
                        or DEFAULT_INSTANCE).resolve()
        instance.mkdir(parents=True, exist_ok=True)
        database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{instance / 'ticketflow.db'}"
        secret_key = os.environ.get("SECRET_KEY") or _instance_secret(instance)
        upload_mb = int(os.environ.get("TICKETFLOW_MAX_UPLOAD_MB", "25"))
        proxy_hops = int(os.environ.get("TICKETFLOW_PROXY_HOPS", "0"))
        timezone = os.environ.get("TICKETFLOW_TIMEZONE") or "Asia/Shanghai"
        settings = cls(database_url=database_url, instance_path=instance, secret_key=secret_key,
                       attachment_dir=instance / "attachments", max_upload_bytes=upload_mb * MIB,
                       max_request_bytes=(upload_mb + 5) * MIB, proxy_hops=proxy_hops,
                       timezone=timezone, delivery=DeliverySettings.from_env())
        return replace(settings, **overrides)


@dataclass(frozen=True)
class DeliverySettings:
    """How notifications leave the system (the worker reads these; see docs/architecture.md).

    No SMTP host: e-mails wait in the outbox (nothing is lost) until one is configured.
    """

    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "ticketflow@localhost"
    smtp_starttls: bool = False
    smtp_timeout: float = 10.0
    # Links in e-mails and robot messages point here (no trailing slash).
    base_url: str = "http://127.0.0.1:8000"
    webhook_timeout: float = 5.0
    # After this many failed attempts a message is dead (an administrator may retry it).
    max_attempts: int = 8

    @classmethod
    def from_env(cls) -> DeliverySettings:
        """`TICKETFLOW_SMTP_HOST`, `_PORT`, `_USER`, `_PASSWORD`, `_FROM`, `_STARTTLS`,
        `_TIMEOUT`; `TICKETFLOW_BASE_URL`; `TICKETFLOW_WEBHOOK_TIMEOUT`;
        `TICKETFLOW_DELIVERY_MAX_ATTEMPTS`."""
        env = os.environ.get
        default = cls()
        return cls(
            smtp_host=env("TICKETFLOW_SMTP_HOST") or None,
            smtp_port=int(env("TICKETFLOW_SMTP_PORT") or default.smtp_port),
            smtp_user=env("TICKETFLOW_SMTP_USER") or None,
            smtp_password=env("TICKETFLOW_SMTP_PASSWORD") or None,
            smtp_from=env("TICKETFLOW_SMTP_FROM") or default.smtp_from,
            smtp_starttls=(env("TICKETFLOW_SMTP_STARTTLS") or "").lower() in ("1", "true", "yes"),
            smtp_timeout=float(env("TICKETFLOW_SMTP_TIMEOUT") or default.smtp_timeout),
            base_url=(env("TICKETFLOW_BASE_URL") or default.base_url).rstrip("/"),
            webhook_timeout=float(env("TICKETFLOW_WEBHOOK_TIMEOUT") or default.webhook_timeout),
            max_attempts=max(1, int(env("TICKETFLOW_DELIVERY_MAX_ATTEMPTS")
                                    or default.max_attempts)),
        )


def _instance_secret(instance: Path) -> str:
    """A secret key generated on first run and kept in the instance folder (never in git)."""
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
