"""Fleet settings (``ADMIT_*`` environment variables), beside the server's own Settings.

The foundation's :class:`server.settings.Settings` already has ``mqtt_url``; everything else the
bridge, enrollment and broker configuration need lives here so the fleet can grow knobs without
editing the foundation. The app reads them once: ``app.state.fleet_settings`` when a caller
(``admit demo``, tests) put one there before start-up, else :func:`get_fleet_settings`.
"""

from __future__ import annotations

import socket
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_client_id() -> str:
    host = "".join(c if c.isalnum() or c in "-_" else "-" for c in socket.gethostname().lower())
    return f"admit-server-{host or 'host'}"[:64]


class FleetSettings(BaseSettings):
    """Each field is ``ADMIT_<FIELD>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="ADMIT_", extra="ignore", frozen=True)

    #: Run the MQTT bridge (scan ingestion, status, commands, list publication) in this process.
    mqtt_bridge: bool = False
    #: The broker the server connects to; ``mqtt://user:password@host:port`` carries credentials.
    mqtt_url: str = "mqtt://127.0.0.1:1883"
    #: The broker URL handed to kiosks at enrollment (default: ``mqtt_url`` without credentials).
    mqtt_public_url: str | None = None
    mqtt_root: str = "admit"
    #: "5": MQTT 5 with a shared subscription ``$share/<group>/...`` for scans, so several server
    #: instances split the load. "3.1.1": a plain subscription (amqtt, the demo broker, has no
    #: MQTT 5); run only one bridge then.
    mqtt_protocol: Literal["5", "3.1.1"] = "5"
    mqtt_share_group: str = "admit"
    #: Stable, per instance: the broker keeps the session (queued scans) while the server is down.
    mqtt_client_id: str = Field(default_factory=_default_client_id)
    #: The server's broker user in the generated ACL and password file.
    mqtt_server_username: str = "admit-server"
    #: Scans are stored in batches: up to this many per transaction ...
    ingest_batch_size: int = Field(default=2000, ge=1)
    #: ... collected for at most this long after the first one arrives. Each batch costs one
    #: ScanAck per gate in it, the gates' progress and a commit: 50 ms rather than 20 ms shares
    #: those among 2.5 times as many scans in a burst (8-10% more scans/s in bench/ingest.py)
    #: and delays a gate's ack, which only empties its outbox, by 30 ms more at most.
    ingest_batch_wait: timedelta = timedelta(milliseconds=50)
    #: When set, enrollment and revocation rewrite these Mosquitto files and run the reload
    #: command (e.g. ``systemctl reload mosquitto`` or ``kill -HUP <pid>``).
    mosquitto_password_file: Path | None = None
    mosquitto_acl_file: Path | None = None
    mosquitto_reload_command: str | None = None
    enrollment_token_ttl: timedelta = timedelta(days=1)
    #: Entries per snapshot chunk (MQTT list_update messages and HTTP snapshot pages).
    snapshot_chunk_size: int = Field(default=2000, ge=1, le=20000)
    #: How long an operator's command stays valid at the gate.
    command_ttl: timedelta = timedelta(seconds=30)
    #: The bridge re-reads the list change log this often (changes made by other processes).
    list_sweep_interval: timedelta = timedelta(seconds=2)
    #: A gate this many list versions behind (or fewer) catches up by deltas, else a snapshot.
    catchup_max_deltas: int = Field(default=50, ge=1)
    #: The same catch-up to the same gate and list at most this often (flapping kiosks) ...
    catchup_interval: timedelta = timedelta(seconds=30)
    #: ... and any catch-up to a gate and list at most this often.
    catchup_min_spacing: timedelta = timedelta(seconds=2)
    #: Staff admissions resent to a gate behind (its status's ``staff_seq``) per catch-up.
    catchup_staff_batch: int = Field(default=500, ge=1, le=5000)

    @property
    def broker_credentials(self) -> tuple[str | None, str | None]:
        parts = urlsplit(self.mqtt_url)
        return parts.username, parts.password

    @property
    def kiosk_broker_url(self) -> str:
        if self.mqtt_public_url:
            return self.mqtt_public_url
        parts = urlsplit(self.mqtt_url)
        host = parts.hostname or "127.0.0.1"
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme or 'mqtt'}://{host}{port}"

    def server_password(self) -> SecretStr | None:
        _, password = self.broker_credentials
        return SecretStr(password) if password else None


@lru_cache(maxsize=1)
def get_fleet_settings() -> FleetSettings:
    return FleetSettings()
