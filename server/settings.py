"""Server settings, read from ``ADMIT_*`` environment variables (pydantic-settings).

Every knob the server has lives here, so ``docs/server.md`` can list them in one table. Build a
:class:`Settings` directly in tests (``Settings(database_url=...)``); the running server calls
:func:`get_settings` once and hands the object to :func:`server.app.create_app`.
"""

from __future__ import annotations

import logging
import os
import secrets
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)

SECRET_KEY_FILE_NAME = "secret_key"


def _seconds_or_duration(value: Any) -> Any:
    """Environment values arrive as text: read plain numbers as seconds (``"3600"``), leave
    ISO 8601 durations (``"PT1H"``) and ``HH:MM:SS`` to pydantic."""
    if isinstance(value, str) and value.strip().replace(".", "", 1).isdigit():
        return float(value)
    return value


#: A duration given in seconds or as an ISO 8601 duration.
Duration = Annotated[timedelta, BeforeValidator(_seconds_or_duration)]


class Settings(BaseSettings):
    """The server's configuration; each field is ``ADMIT_<FIELD>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="ADMIT_", extra="ignore", frozen=True)

    database_url: str = "sqlite:///./var/admit.sqlite3"
    #: "migrate": run Alembic to head at start-up; "create": ``Base.metadata.create_all`` (demo and
    #: development while models change); "none": leave the schema alone (tests prepare it).
    database_schema: Literal["migrate", "create", "none"] = "migrate"
    #: Folder for files the server keeps beside its database (generated secret key, uploads).
    data_dir: Path = Path("./var")
    mqtt_url: str = "mqtt://127.0.0.1:1883"
    site: str = "demo"
    language: str = "zh-CN"
    timezone: str = "Asia/Shanghai"
    #: Keys HMACs (one-time codes). Unset: generated once into ``<data_dir>/secret_key``. Several
    #: server instances must share one value, so set it explicitly behind a load balancer.
    secret_key: SecretStr | None = None

    token_ttl: Duration = timedelta(days=7)
    #: Whether a new merchant's events are listed publicly without a separate switch.
    merchants_public_by_default: bool = True
    #: Whether anyone may apply for a merchant account (a platform admin approves or rejects).
    merchant_self_registration: bool = False

    #: "log" writes each SMS to the log; "outbox" keeps them in memory (tests, demo);
    #: "module:attribute" names a factory ``(Settings) -> SmsSender`` for a real gateway.
    sms_sender: str = "log"
    #: The signature a Chinese SMS gateway puts in brackets before the text, e.g. 【Admit】.
    sms_signature: str = "Admit"
    otp_length: int = Field(default=6, ge=4, le=10)
    otp_ttl: Duration = timedelta(minutes=5)
    otp_resend_interval: Duration = timedelta(seconds=60)
    otp_daily_limit_per_phone: int = 10
    otp_hourly_limit_per_ip: int = 30
    #: Wrong guesses that burn a one-time code (the visitor must request a new one).
    otp_max_attempts: int = 5
    #: Wrong passwords for one phone within ``password_lockout_window`` before login is refused.
    password_max_failures: int = 10
    password_lockout_window: Duration = timedelta(minutes=15)

    #: Run the features' periodic jobs (expiry sweeps) inside this process.
    background_jobs: bool = True

    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    log_json: bool = True

    def resolved_secret_key(self) -> bytes:
        """The secret key's bytes: the setting, else the key file in ``data_dir`` (made once)."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        return _load_or_create_key_file(self.data_dir / SECRET_KEY_FILE_NAME)


def _load_or_create_key_file(path: Path) -> bytes:
    if path.exists():
        return path.read_text().strip().encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # O_EXCL: when two processes race, one creates the file and the other reads the winner's key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip().encode()
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    log.warning("generated a secret key in %s; set ADMIT_SECRET_KEY to share one", path)
    return key.encode()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings from the environment, read once."""
    return Settings()
