"""``admit kiosk enroll SERVER_URL TOKEN``: exchange a one-time token for this gate's identity.

The server's answer (``POST {SERVER_URL}/api/v1/fleet/enroll`` with ``{"token": ...}``, see
SPEC.md, enrollment flow)::

    {"site": "expo-hall", "gate": "north-1",
     "mqtt": {"url": "mqtt://broker:1883", "username": "...", "password": "...",
              "client_id": "..."},
     "keys": {"1": "<base64 Ed25519 public key>"},
     "code_salt": "...",
     "policy": {"events": [17], "zones": [3], "direction": "in"},   (optional)
     "lists": [<ListUpdate dicts: the initial snapshot chunks>],
     "admissions": [<Admission dicts: check-ins by staff, pseudo-gate "_staff">]}   (optional)

What is kept where: the MQTT password in a file beside the TOML (``mqtt-password``, mode
0600, named by ``mqtt.password_file``); site, gate, broker, user name, client id and the policy
facts in the TOML (updated in place with tomlkit, so comments and other tables survive); the
trusted keys, the code salt and the lists in the kiosk store, the lists applied (digest
checked) exactly as the link would apply them, and the staff check-ins in its ledger, the staff
watermark (``staff_seq``) started over from their chain.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import tomlkit
from tomlkit.items import Table

from kiosk import lists
from kiosk.config import KioskConfig, load_config
from kiosk.store import CODE_SALT_SETTING, GossipAdmission, KioskStore
from protocol import messages, topics
from protocol.signing import KeyFormatError, Keyring

ENROLL_PATH = "/api/v1/fleet/enroll"
PASSWORD_FILE_NAME = "mqtt-password"
#: server policy keys -> [policy] keys (the server may use either spelling)
_POLICY_KEYS = {
    "events": "events",
    "event_ids": "events",
    "zones": "zones",
    "ticket_type_ids": "zones",
    "direction": "direction",
}


class EnrollmentError(RuntimeError):
    """The server refused the token, could not be reached, or answered something unusable."""


@dataclass(frozen=True, slots=True)
class Enrollment:
    site: str
    gate: str
    mqtt_url: str
    mqtt_username: str
    mqtt_password: str
    client_id: str
    keys: dict[str, str | None]
    code_salt: str
    policy: dict[str, Any]
    lists: list[messages.ListUpdate]
    admissions: list[messages.Admission]


def request_enrollment(
    server_url: str,
    token: str,
    *,
    timeout: float = 15.0,
    transport: httpx.BaseTransport | None = None,
) -> Enrollment:
    """POST the token and read the answer; raises EnrollmentError."""
    url = server_url.rstrip("/") + ENROLL_PATH
    try:
        with httpx.Client(timeout=timeout, transport=transport) as client:
            response = client.post(url, json={"token": token})
    except httpx.HTTPError as exc:
        raise EnrollmentError(f"cannot reach {url}: {exc}") from exc
    if response.status_code != 200:
        raise EnrollmentError(
            f"the server refused the enrollment ({response.status_code}): {_error_text(response)}"
        )
    try:
        body = response.json()
    except ValueError:
        raise EnrollmentError("the server's answer is not JSON") from None
    return parse_enrollment(body)


def parse_enrollment(body: object) -> Enrollment:
    """Validate the server's answer; raises EnrollmentError naming the bad field."""
    if not isinstance(body, Mapping):
        raise EnrollmentError("the server's answer is not a JSON object")
    site = _field(body, "site", str)
    gate = _field(body, "gate", str)
    for name, value in (("site", site), ("gate", gate)):
        if not topics.is_valid_id(value):
            raise EnrollmentError(f"{name} {value!r} is not a valid id")
    mqtt = _field(body, "mqtt", Mapping)
    keys = _field(body, "keys", Mapping)
    try:
        Keyring.from_dict(keys)
    except KeyFormatError as exc:
        raise EnrollmentError(f"keys: {exc}") from None
    policy = body.get("policy") or {}
    if not isinstance(policy, Mapping):
        raise EnrollmentError("policy must be an object")
    updates = [_list_update(item, index) for index, item in enumerate(_field(body, "lists", list))]
    admissions = body.get("admissions") or []
    if not isinstance(admissions, list):
        raise EnrollmentError("admissions must be a list")
    return Enrollment(
        site=site,
        gate=gate,
        mqtt_url=_field(mqtt, "url", str, "mqtt."),
        mqtt_username=_field(mqtt, "username", str, "mqtt."),
        mqtt_password=_field(mqtt, "password", str, "mqtt."),
        client_id=_field(mqtt, "client_id", str, "mqtt."),
        keys={str(key): value for key, value in keys.items()},
        code_salt=_field(body, "code_salt", str),
        policy={_POLICY_KEYS[key]: value for key, value in policy.items() if key in _POLICY_KEYS},
        lists=updates,
        admissions=[_admission(item, index) for index, item in enumerate(admissions)],
    )


def install_enrollment(
    enrollment: Enrollment, config_path: Path, server_url: str | None = None
) -> KioskConfig:
    """Write the credentials, TOML, keys, salt and lists; returns the resulting config.

    The store is filled first; the password file and the TOML (atomically) are written only
    once the store has taken everything, so a refused list leaves the configuration as it was.
    """
    document = _read_document(config_path)
    store_table = _table(document, "store")
    store_path = config_path.parent / str(store_table.get("path", "kiosk.db"))
    store_path.parent.mkdir(parents=True, exist_ok=True)
    with KioskStore(store_path) as store:
        store.set_trusted_keys(enrollment.keys)
        store.set_setting(CODE_SALT_SETTING, enrollment.code_salt)
        for update in enrollment.lists:
            result = lists.apply_update(store, update)
            if not result.ok:
                raise EnrollmentError(
                    f"initial {update.list} (chunk {update.chunk}) refused: "
                    f"{result.outcome} {result.detail}"
                )
        with store.transaction():  # one fsync for all of them, not one per check-in
            # the answer's staff admissions are a chain from 0 (SPEC.md, enrollment): the
            # gate's staff_seq starts over from them, whatever this store held before
            store.reset_staff_seq()
            store.record_gossips(
                GossipAdmission.from_message(admission)
                for admission in enrollment.admissions
                if admission.gate != enrollment.gate
            )
    password_path = config_path.parent / PASSWORD_FILE_NAME
    _write_private(password_path, enrollment.mqtt_password + "\n")

    site = _table(document, "site")
    site["id"] = enrollment.site
    site["gate"] = enrollment.gate
    mqtt = _table(document, "mqtt")
    mqtt["url"] = enrollment.mqtt_url
    mqtt["username"] = enrollment.mqtt_username
    mqtt["client_id"] = enrollment.client_id
    mqtt["password_file"] = PASSWORD_FILE_NAME
    mqtt.pop("password", None)
    if "path" not in store_table:
        store_table["path"] = "kiosk.db"
    if server_url is not None:
        _table(document, "server")["url"] = server_url.rstrip("/")
    policy = _table(document, "policy")
    for key, value in enrollment.policy.items():
        policy[key] = value
    _write_atomic(config_path, tomlkit.dumps(document))
    return load_config(config_path)


def enroll(
    server_url: str,
    token: str,
    config_path: Path,
    *,
    transport: httpx.BaseTransport | None = None,
) -> KioskConfig:
    """Request and install an enrollment (``admit kiosk enroll``)."""
    enrollment = request_enrollment(server_url, token, transport=transport)
    return install_enrollment(enrollment, config_path, server_url)


def _list_update(item: object, index: int) -> messages.ListUpdate:
    return _message(item, f"lists[{index}]", messages.ListUpdate)


def _admission(item: object, index: int) -> messages.Admission:
    return _message(item, f"admissions[{index}]", messages.Admission)


M = TypeVar("M", bound=messages.Message)


def _message(item: object, where: str, kind: type[M]) -> M:
    """A protocol message of ``kind`` from the enrollment answer (envelope fields optional)."""
    if not isinstance(item, Mapping):
        raise EnrollmentError(f"{where} is not an object")
    data = {"v": messages.PROTOCOL_VERSION, "kind": kind.KIND, "ts": 0, **item}
    data.setdefault("id", messages.new_id())
    try:
        message = messages.decode(json.dumps(data))
    except messages.MessageError as exc:
        raise EnrollmentError(f"{where}: {exc}") from None
    if not isinstance(message, kind):
        raise EnrollmentError(f"{where} is not a {kind.KIND}")
    return message


def _field(data: Mapping[str, Any], name: str, kind: type, prefix: str = "") -> Any:
    value = data.get(name)
    if not isinstance(value, kind) or (kind is str and not value):
        raise EnrollmentError(f"the server's answer lacks a valid {prefix}{name}")
    return value


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or error.get("code"))
    return str(body)[:200]


def _read_document(path: Path) -> tomlkit.TOMLDocument:
    if not path.exists():
        return tomlkit.document()
    try:
        return tomlkit.parse(path.read_text(encoding="utf-8"))
    except (OSError, tomlkit.exceptions.TOMLKitError) as exc:
        raise EnrollmentError(f"cannot update {path}: {exc}") from exc


def _table(document: tomlkit.TOMLDocument, name: str) -> Table:
    table = document.get(name)
    if table is None:
        table = tomlkit.table()
        document[name] = table
    if not isinstance(table, Table):
        raise EnrollmentError(f"[{name}] in the configuration is not a table")
    return table


def _write_private(path: Path, text: str) -> None:
    """Write a secret readable by the owner only (created 0600, never world-readable)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
