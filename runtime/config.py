"""Settings, read once from the environment at the edge (CLI, WSGI entry point)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, replace
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
                       timezone=timezone)
        return replace(settings, **overrides)


def _instance_secret(instance: Path) -> str:
    """A secret key generated on first run and kept in the instance folder (never in git)."""
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
