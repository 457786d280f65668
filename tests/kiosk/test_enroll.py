"""Enrollment against a small real HTTP server speaking the fleet endpoint's shape."""

from __future__ import annotations

import json
import shutil
import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from kiosk.enroll import EnrollmentError, enroll, parse_enrollment
from kiosk.store import CODE_SALT_SETTING, GossipAdmission, KioskStore
from protocol import messages
from protocol.allowlist import ListDigest
from protocol.signing import SigningKey
from tests.conftest import REPO_ROOT

TOKEN = "enroll-token-1"


def snapshot(
    list_name: str, entries: list[str], meta: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "list": list_name,
        "site": "expo-hall",
        "scope": None,
        "snapshot": True,
        "from_version": 0,
        "to_version": 5,
        "add": entries,
        "remove": [],
        "digest": ListDigest.of(entries).hex(),
        "chunk": 0,
        "chunks": 1,
        "meta": meta,
    }


def answer(key: SigningKey) -> dict[str, Any]:
    return {
        "site": "expo-hall",
        "gate": "south-2",
        "mqtt": {
            "url": "mqtt://broker.local:1883",
            "username": "kiosk-expo-hall-south-2",
            "password": "pa55-word",
            "client_id": "kiosk-expo-hall-south-2",
        },
        "keys": {"1": key.public_key_text()},
        "code_salt": "salt-123",
        "policy": {"events": [17], "zones": [3], "direction": "in"},
        "lists": [
            snapshot(
                "allowlist",
                ["c0de01", "c0de02"],
                {"c0de01": {"ticket_id": 9, "event_id": 17, "zone": 3, "entries": 1}},
            ),
            snapshot("revocations", ["100234"]),
        ],
        "admissions": [
            {
                "gate": "_staff",
                "ticket_key": "t:9",
                "direction": "in",
                "at": 1748771999750,
                "entries_used": 1,
                "seq": 40,
                "prev": 0,
            }
        ],
    }


class EnrollServer:
    """``POST /api/v1/fleet/enroll``: answers ``body`` for the right token, 403 otherwise."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.requests: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                request = json.loads(self.rfile.read(length))
                owner.requests.append({"path": self.path, "json": request})
                if self.path == "/api/v1/fleet/enroll" and request == {"token": TOKEN}:
                    self._send(200, owner.body)
                else:
                    self._send(403, {"error": {"code": "bad_token", "message": "token spent"}})

            def _send(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.from_seed(1, bytes(range(32)))


@pytest.fixture
def server(key: SigningKey) -> Iterator[EnrollServer]:
    running = EnrollServer(answer(key))
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    """The deployed example, with the store moved into the test's directory."""
    path = tmp_path / "etc" / "kiosk.toml"
    path.parent.mkdir()
    shutil.copy(REPO_ROOT / "deploy" / "kiosk" / "kiosk.toml", path)
    text = path.read_text().replace('path = "/var/lib/admit/kiosk.db"', 'path = "kiosk.db"')
    path.write_text(text)
    return path


def test_enrollment_stores_credentials_keys_salt_and_lists(
    server: EnrollServer, config_path: Path, key: SigningKey
) -> None:
    config = enroll(server.url + "/", TOKEN, config_path)
    assert server.requests == [{"path": "/api/v1/fleet/enroll", "json": {"token": TOKEN}}]
    assert (config.site.id, config.site.gate) == ("expo-hall", "south-2")
    assert config.mqtt.url == "mqtt://broker.local:1883"
    assert config.mqtt.username == "kiosk-expo-hall-south-2"
    assert config.mqtt.client_id == "kiosk-expo-hall-south-2"
    assert config.mqtt.password == "pa55-word"
    assert config.server_url == server.url
    assert config.policy.event_ids == frozenset({17}) and config.policy.zones == frozenset({3})

    password_file = config_path.parent / "mqtt-password"
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    text = config_path.read_text()
    assert "pa55-word" not in text
    assert "# Admit kiosk configuration (example)" in text  # comments survive
    assert 'relay_mode = "pulse"' in text  # other tables untouched

    with KioskStore(config.store_path) as store:
        assert store.trusted_keys().to_dict() == {"1": key.public_key_text()}
        assert store.get_setting(CODE_SALT_SETTING) == "salt-123"
        assert store.list_version("allowlist").version == 5
        entry = store.allowlist_entry("c0de01")
        assert entry is not None and (entry.ticket_id, entry.zone) == (9, 3)
        assert store.is_revoked(100234)
        # checked in by staff before the gate enrolled: counted like a peer gate's entry
        (staff,) = store.admissions("t:9")
        assert (staff.gate, staff.source, staff.entry_no) == ("_staff", "gossip", 1)


def test_the_staff_watermark_starts_over_from_the_answers_chain(
    key: SigningKey, config_path: Path
) -> None:
    """The answer's staff admissions are a chain from 0: the gate holds them all, up to the
    last; a store that held a higher watermark (enrolled before, elsewhere) starts over."""
    body = answer(key)
    later = {**body["admissions"][0], "ticket_key": "t:10", "seq": 52, "prev": 40}
    body["admissions"].append(later)
    store_path = config_path.parent / "kiosk.db"
    with KioskStore(store_path) as store:
        store.record_gossip(GossipAdmission("_staff", "t:1", "in", 5, 1, seq=999, prev=0))
        assert store.staff_seq() == 999
    running = EnrollServer(body)
    try:
        enroll(running.url, TOKEN, config_path)
    finally:
        running.close()
    with KioskStore(store_path) as store:
        assert store.staff_seq() == 52
        assert [row.gate for row in store.admissions("t:10")] == ["_staff"]


def test_unnumbered_staff_admissions_of_an_older_server_leave_the_watermark_at_zero(
    key: SigningKey, config_path: Path
) -> None:
    body = answer(key)
    for admission in body["admissions"]:
        del admission["seq"], admission["prev"]
    running = EnrollServer(body)
    try:
        config = enroll(running.url, TOKEN, config_path)
    finally:
        running.close()
    with KioskStore(config.store_path) as store:
        assert store.staff_seq() == 0
        assert len(store.admissions("t:9")) == 1


def test_a_refused_token_is_a_clear_error(server: EnrollServer, config_path: Path) -> None:
    before = config_path.read_text()
    with pytest.raises(EnrollmentError, match=r"403.*token spent"):
        enroll(server.url, "wrong", config_path)
    assert config_path.read_text() == before


def test_an_unreachable_server_is_a_clear_error(config_path: Path) -> None:
    with pytest.raises(EnrollmentError, match="cannot reach"):
        enroll("http://127.0.0.1:9", TOKEN, config_path)


def test_a_list_that_fails_its_digest_leaves_the_config_alone(
    key: SigningKey, config_path: Path
) -> None:
    body = answer(key)
    body["lists"][0]["digest"] = "ab" * 32
    bad = EnrollServer(body)
    before = config_path.read_text()
    try:
        with pytest.raises(EnrollmentError, match="initial allowlist"):
            enroll(bad.url, TOKEN, config_path)
    finally:
        bad.close()
    assert config_path.read_text() == before
    assert not (config_path.parent / "mqtt-password").exists()


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda b: b.pop("keys"), "keys"),
        (lambda b: b.update(gate="South 2"), "gate"),
        (lambda b: b["mqtt"].pop("password"), "mqtt.password"),
        (lambda b: b.update(keys={"1": "not a key"}), "keys"),
        (lambda b: b["lists"][0].update(chunk=7), "lists[0]"),
        (lambda b: b.update(lists="all of them"), "lists"),
        (lambda b: b.update(admissions={"t:9": 1}), "admissions"),
        (lambda b: b["admissions"][0].update(ticket_key="9"), "admissions[0]"),
        (lambda b: b["admissions"][0].update(direction="sideways"), "admissions[0]"),
        (lambda b: b["admissions"][0].update(prev=40), "admissions[0]"),
        (lambda b: b["admissions"][0].pop("prev"), "admissions[0]"),
        (lambda b: b["admissions"][0].update(gate="north-1"), "admissions[0]"),
    ],
)
def test_an_unusable_answer_names_the_field(key: SigningKey, change: Any, named: str) -> None:
    body = answer(key)
    change(body)
    with pytest.raises(EnrollmentError, match=named.replace("[", r"\[").replace("]", r"\]")):
        parse_enrollment(body)


def test_an_answer_without_admissions_is_an_older_server(key: SigningKey) -> None:
    body = answer(key)
    del body["admissions"]
    assert parse_enrollment(body).admissions == []


def test_enrolling_without_an_existing_file_creates_one(
    server: EnrollServer, tmp_path: Path
) -> None:
    config = enroll(server.url, TOKEN, tmp_path / "new" / "kiosk.toml")
    assert config.store_path == tmp_path / "new" / "kiosk.db"
    assert config.site.gate == "south-2"


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
_ADMISSION_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "gate": st.sampled_from(["_staff", "north-1", "South 2", ""]) | _JSON,
        "ticket_key": st.sampled_from(["t:9", "t:09", "c:ab", "x:1", "t:"]) | _JSON,
        "direction": st.sampled_from(["in", "out", "up"]) | _JSON,
        "at": st.integers(min_value=-5, max_value=2**53) | _JSON,
        "entries_used": st.integers(min_value=-5, max_value=5) | _JSON,
        "seq": st.integers(min_value=-1, max_value=9) | _JSON,
        "prev": st.integers(min_value=-1, max_value=9) | _JSON,
        "id": _JSON,
        "kind": st.sampled_from(["admission", "scan"]) | _JSON,
    },
)


@given(admissions=st.lists(_ADMISSION_FIELDS, max_size=3) | _JSON)
@example(admissions=answer(SigningKey.from_seed(1, bytes(range(32))))["admissions"] * 2)
def test_any_admissions_field_parses_or_names_itself(admissions: Any) -> None:
    """Whatever a server (or something posing as one) puts under ``admissions``, parsing either
    yields admission messages or raises EnrollmentError naming that field, nothing else."""
    body = answer(SigningKey.from_seed(1, bytes(range(32))))
    body["admissions"] = admissions
    try:
        parsed = parse_enrollment(body)
    except EnrollmentError as error:
        assert "admissions" in str(error)
    else:
        assert all(isinstance(admission, messages.Admission) for admission in parsed.admissions)
        assert len(parsed.admissions) == (len(admissions) if isinstance(admissions, list) else 0)
