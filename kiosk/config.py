"""The kiosk's TOML file (``/etc/admit/kiosk.toml``) read into one typed, validated config.

Tables: ``[site]`` (ids, language), ``[mqtt]`` (broker and credentials), ``[store]`` (the SQLite
file), ``[outbox]`` (drain tuning), ``[server]`` (HTTP base URL, catch-up timeout), ``[telemetry]``
(interval), ``[camera]`` (frame source and decoder), ``[policy]`` (parsed by :mod:`kiosk.policy`),
``[gate]`` and ``[scanner]`` (parsed by ``hardware``). Environment variables
``ADMIT_<TABLE>_<KEY>`` (see :data:`ENV_OVERRIDES`) override single settings, so a systemd drop-in
or a container can change the broker without editing the file. Every problem is collected and
reported at once, each naming its key (``mqtt.keepalive``).

Relative paths in the file (``store.path``, ``mqtt.password_file``, ``mqtt.ca_file``) are resolved
against the file's own directory, so a kiosk directory can be moved as a whole.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hardware.decoders import BACKENDS
from hardware.frames import FrameSourceError, parse_spec
from hardware.gate import GateConfig, GateConfigError
from hardware.scanners import ScannerConfig, ScannerConfigError
from kiosk.policy import GatePolicy, PolicyError
from protocol import topics

DEFAULT_CONFIG_PATH = Path("/etc/admit/kiosk.toml")
LANGUAGES = ("zh-CN", "en")
MQTT_SCHEMES = {"mqtt": 1883, "mqtts": 8883}

#: ``ADMIT_<NAME>`` -> (table, key, type) of the settings the environment may override.
ENV_OVERRIDES: dict[str, tuple[str, str, type]] = {
    "ADMIT_SITE_ID": ("site", "id", str),
    "ADMIT_SITE_GATE": ("site", "gate", str),
    "ADMIT_SITE_LANGUAGE": ("site", "language", str),
    "ADMIT_MQTT_URL": ("mqtt", "url", str),
    "ADMIT_MQTT_USERNAME": ("mqtt", "username", str),
    "ADMIT_MQTT_PASSWORD": ("mqtt", "password", str),
    "ADMIT_MQTT_PASSWORD_FILE": ("mqtt", "password_file", str),
    "ADMIT_MQTT_CLIENT_ID": ("mqtt", "client_id", str),
    "ADMIT_MQTT_KEEPALIVE": ("mqtt", "keepalive", int),
    "ADMIT_MQTT_ROOT": ("mqtt", "root", str),
    "ADMIT_STORE_PATH": ("store", "path", str),
    "ADMIT_SERVER_URL": ("server", "url", str),
    "ADMIT_CAMERA_SOURCE": ("camera", "source", str),
    "ADMIT_CAMERA_DECODER": ("camera", "decoder", str),
    "ADMIT_GATE_PIN_FACTORY": ("gate", "pin_factory", str),
}


class KioskConfigError(ValueError):
    """The kiosk configuration is invalid; ``problems`` lists every bad key found."""

    def __init__(self, problems: list[str], source: str = "kiosk configuration") -> None:
        super().__init__(f"invalid {source}:\n  - " + "\n  - ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class SiteConfig:
    """Which gate this kiosk is, and the language its screen speaks by default."""

    id: str
    gate: str
    language: str = "zh-CN"


@dataclass(frozen=True, slots=True)
class MqttConfig:
    """Broker address and this kiosk's credentials (from enrollment)."""

    url: str
    client_id: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    keepalive: int = 30
    #: topic root (SPEC.md: may have several levels)
    root: str = topics.DEFAULT_ROOT
    #: CA bundle for ``mqtts://`` brokers with a private CA; None: the system's trust store
    ca_file: Path | None = None

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "localhost"

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or MQTT_SCHEMES[parts.scheme]

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme == "mqtts"


@dataclass(frozen=True, slots=True)
class OutboxConfig:
    """How the durable outbox drains (SPEC.md, offline drain)."""

    #: scans published and not yet acknowledged by the server, at most
    window: int = 100
    #: seconds after which an unacknowledged scan is published again
    resend_after: float = 30.0
    #: the retained status is republished for outbox depth changes at most this often (seconds)
    status_interval: float = 5.0


@dataclass(frozen=True, slots=True)
class CameraConfig:
    """The frame source (``hardware.frames`` spec, or "none") and the decoder backend."""

    source: str = "opencv:0"
    decoder: str = "auto"

    @property
    def enabled(self) -> bool:
        return self.source != "none"


@dataclass(frozen=True, slots=True)
class KioskConfig:
    site: SiteConfig
    mqtt: MqttConfig
    store_path: Path
    policy: GatePolicy
    gate: GateConfig
    scanner: ScannerConfig
    camera: CameraConfig
    outbox: OutboxConfig
    server_url: str | None
    #: seconds to wait for the server's MQTT catch-up before fetching a snapshot over HTTP
    catchup_timeout: float = 30.0
    #: seconds between ``telemetry`` messages
    telemetry_interval: float = 60.0
    #: the file it was read from (None when built from a mapping)
    path: Path | None = None


def load_config(
    path: Path = DEFAULT_CONFIG_PATH, env: Mapping[str, str] | None = None
) -> KioskConfig:
    """Read, override from ``env`` (default ``os.environ``) and validate the kiosk TOML."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KioskConfigError([f"{path} does not exist"], str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KioskConfigError([f"{path} cannot be read: {exc}"], str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise KioskConfigError([f"{path} is not valid TOML: {exc}"], str(path)) from None
    config = config_from_mapping(data, base_dir=path.parent, env=env, source=str(path))
    return _with_path(config, path)


def _with_path(config: KioskConfig, path: Path) -> KioskConfig:
    values = {name: getattr(config, name) for name in KioskConfig.__dataclass_fields__}
    values["path"] = path
    return KioskConfig(**values)


def config_from_mapping(
    data: Mapping[str, Any],
    *,
    base_dir: Path = Path("."),
    env: Mapping[str, str] | None = None,
    source: str = "kiosk configuration",
) -> KioskConfig:
    """Validate a parsed TOML document; raises :class:`KioskConfigError` listing every problem."""
    problems: list[str] = []
    tables = _apply_env(data, os.environ if env is None else env, problems)
    unknown = set(tables) - {
        "site",
        "mqtt",
        "store",
        "outbox",
        "server",
        "camera",
        "policy",
        "gate",
        "scanner",
        "telemetry",
    }
    problems.extend(f"unknown table [{name}]" for name in sorted(unknown))
    reader = _TableReader(tables, problems)

    site_id = reader.text("site", "id", required=True, check=_id_problem)
    gate_id = reader.text("site", "gate", required=True, check=_id_problem)
    language = reader.text("site", "language", default="zh-CN", check=_language_problem)
    reader.no_other_keys("site")

    mqtt = _mqtt_config(reader, base_dir, site_id, gate_id)
    store_path = base_dir / reader.text("store", "path", default="kiosk.db")
    reader.no_other_keys("store")
    outbox = OutboxConfig(
        window=reader.integer("outbox", "window", default=100, minimum=1),
        resend_after=reader.seconds("outbox", "resend_after", default=30.0),
        status_interval=reader.seconds("outbox", "status_interval", default=5.0),
    )
    reader.no_other_keys("outbox")
    server_url = reader.text("server", "url", default="", check=_http_url_problem) or None
    catchup_timeout = reader.seconds("server", "catchup_timeout", default=30.0)
    reader.no_other_keys("server")
    telemetry_interval = reader.seconds("telemetry", "interval", default=60.0)
    reader.no_other_keys("telemetry")
    camera = CameraConfig(
        source=reader.text("camera", "source", default="opencv:0", check=_source_problem),
        decoder=reader.text("camera", "decoder", default="auto", check=_decoder_problem),
    )
    reader.no_other_keys("camera")

    gate = _sub_config("gate", tables, problems, GateConfig.from_table, GateConfigError)
    scanner = _sub_config("scanner", tables, problems, ScannerConfig.from_table, ScannerConfigError)
    policy = None
    if site_id and gate_id:
        policy = _sub_config(
            "policy",
            tables,
            problems,
            lambda table: GatePolicy.from_toml(table, site=site_id, gate=gate_id),
            PolicyError,
            prefix="",
        )
    if problems or policy is None or gate is None or scanner is None:
        raise KioskConfigError(problems, source)
    return KioskConfig(
        site=SiteConfig(id=site_id, gate=gate_id, language=language),
        mqtt=mqtt,
        store_path=store_path,
        policy=policy,
        gate=gate,
        scanner=scanner,
        camera=camera,
        outbox=outbox,
        server_url=server_url,
        catchup_timeout=catchup_timeout,
        telemetry_interval=telemetry_interval,
    )


def default_client_id(site: str, gate: str) -> str:
    """The stable MQTT client id of a gate when enrollment did not name one."""
    return f"admit-{site}-{gate}"


def _mqtt_config(reader: _TableReader, base_dir: Path, site: str, gate: str) -> MqttConfig:
    url = reader.text("mqtt", "url", default="mqtt://127.0.0.1:1883", check=_mqtt_url_problem)
    username = reader.text("mqtt", "username", default="") or None
    password = reader.text("mqtt", "password", default="") or None
    password_file = reader.text("mqtt", "password_file", default="")
    if password_file:
        if password is not None:
            reader.problem("mqtt.password and mqtt.password_file are both set; keep one")
        else:
            password = reader.secret_file("mqtt.password_file", base_dir / password_file)
    ca_file = reader.text("mqtt", "ca_file", default="")
    config = MqttConfig(
        url=url,
        client_id=reader.text("mqtt", "client_id", default="", check=_client_id_problem)
        or default_client_id(site, gate),
        username=username,
        password=password,
        keepalive=reader.integer("mqtt", "keepalive", default=30, minimum=5),
        root=reader.text("mqtt", "root", default=topics.DEFAULT_ROOT, check=_root_problem),
        ca_file=base_dir / ca_file if ca_file else None,
    )
    reader.no_other_keys("mqtt")
    return config


def _sub_config(
    name: str,
    tables: Mapping[str, Any],
    problems: list[str],
    build: Callable[[Mapping[str, Any]], Any],
    error_type: type[Exception],
    prefix: str | None = None,
) -> Any:
    """A table parsed by its owner's ``from_table``; its problems are prefixed with the table."""
    table = tables.get(name, {})
    if not isinstance(table, Mapping):
        problems.append(f"[{name}] must be a table")
        return None
    try:
        return build(table)
    except error_type as exc:
        found = getattr(exc, "problems", None) or [str(exc)]
        lead = f"{name}: " if prefix is None else prefix
        problems.extend(lead + problem for problem in found)
        return None


def _apply_env(
    data: Mapping[str, Any], env: Mapping[str, str], problems: list[str]
) -> dict[str, Any]:
    """A copy of the document with the environment's overrides written into its tables."""
    tables: dict[str, Any] = {
        name: dict(value) if isinstance(value, Mapping) else value for name, value in data.items()
    }
    for variable, (table, key, kind) in ENV_OVERRIDES.items():
        raw = env.get(variable)
        if raw is None:
            continue
        target = tables.setdefault(table, {})
        if not isinstance(target, dict):
            continue
        if kind is int:
            try:
                target[key] = int(raw)
            except ValueError:
                problems.append(f"{variable} must be a whole number, not {raw!r}")
        else:
            target[key] = raw
    return tables


class _TableReader:
    """Reads typed values out of the document's tables, collecting problems by ``table.key``."""

    def __init__(self, tables: Mapping[str, Any], problems: list[str]) -> None:
        self._tables = tables
        self._problems = problems
        self._read: dict[str, set[str]] = {}

    def problem(self, text: str) -> None:
        self._problems.append(text)

    def _raw(self, table: str, key: str) -> Any:
        self._read.setdefault(table, set()).add(key)
        values = self._tables.get(table, {})
        if not isinstance(values, Mapping):
            return None
        return values.get(key)

    def text(
        self,
        table: str,
        key: str,
        *,
        default: str = "",
        required: bool = False,
        check: Callable[[str], str | None] | None = None,
    ) -> str:
        value = self._raw(table, key)
        if value is None:
            if required:
                self.problem(f"{table}.{key} is required")
            return default
        if not isinstance(value, str):
            self.problem(f"{table}.{key} must be text, not {value!r}")
            return default
        if check is not None:
            problem = check(value)
            if problem is not None:
                self.problem(f"{table}.{key} {problem}")
                return default
        return value

    def integer(self, table: str, key: str, *, default: int, minimum: int) -> int:
        value = self._raw(table, key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(f"{table}.{key} must be a whole number, not {value!r}")
            return default
        if value < minimum:
            self.problem(f"{table}.{key} must be at least {minimum}, not {value}")
            return default
        return value

    def seconds(self, table: str, key: str, *, default: float) -> float:
        value = self._raw(table, key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(f"{table}.{key} must be a number of seconds, not {value!r}")
            return default
        if not math.isfinite(value) or value <= 0:
            self.problem(f"{table}.{key} must be more than 0 seconds, not {value}")
            return default
        return float(value)

    def secret_file(self, key: str, path: Path) -> str | None:
        try:
            secret = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            self.problem(f"{key} {path} cannot be read: {exc.strerror or exc}")
            return None
        if not secret:
            self.problem(f"{key} {path} is empty")
            return None
        return secret

    def no_other_keys(self, table: str) -> None:
        values = self._tables.get(table, {})
        if not isinstance(values, Mapping):
            self.problem(f"[{table}] must be a table")
            return
        for key in sorted(set(values) - self._read.get(table, set())):
            self.problem(f"unknown setting {table}.{key}")


def _id_problem(value: str) -> str | None:
    if topics.is_valid_id(value):
        return None
    return f"must be 1..64 characters of a-z, 0-9, '-' and '_', not {value!r}"


def _language_problem(value: str) -> str | None:
    return None if value in LANGUAGES else f"must be one of {', '.join(LANGUAGES)}"


def _mqtt_url_problem(value: str) -> str | None:
    try:
        parts = urlsplit(value)
        port = parts.port  # reading it raises ValueError on a bad port
    except ValueError:
        return f"is not a valid URL: {value!r}"
    if parts.scheme not in MQTT_SCHEMES or not parts.hostname or port == 0:
        return f"must look like mqtt://host:1883 or mqtts://host:8883, not {value!r}"
    return None


def _http_url_problem(value: str) -> str | None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"must be an http:// or https:// URL, not {value!r}"
    return None


def _client_id_problem(value: str) -> str | None:
    if 0 < len(value) <= 128 and value.isascii() and value.isprintable() and " " not in value:
        return None
    return "must be 1..128 printable ASCII characters without spaces"


def _root_problem(value: str) -> str | None:
    try:
        topics.Topics("x", value)
    except topics.TopicError:
        return f"must be topic levels of a-z, 0-9, '-' and '_', not {value!r}"
    return None


def _source_problem(value: str) -> str | None:
    if value == "none":
        return None
    try:
        parse_spec(value)
    except FrameSourceError as exc:
        return f"is not a frame source: {exc}"
    return None


def _decoder_problem(value: str) -> str | None:
    return None if value in BACKENDS else f"must be one of {', '.join(BACKENDS)}"
