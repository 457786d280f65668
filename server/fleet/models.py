"""Fleet tables: gates and their live status, enrollment tokens, every scan a gate reported,
commands sent to gates, and the versioned per-site allowlist and revocation lists.

A gate belongs to a venue (catalog); the venue's ``slug`` is the MQTT site id and the gate's
``key`` its gate id, so ``<root>/v1/<venue.slug>/gates/<gate.key>/...`` are its topics.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.catalog.models import Venue, Zone
from server.db import Base, TenantMixin, enum_column


class EnrollmentState(enum.StrEnum):
    """``pending``: registered, waiting for a kiosk to redeem its token; ``enrolled``: has MQTT
    credentials; ``revoked``: credentials dropped from the broker's password file and ACL."""

    PENDING = "pending"
    ENROLLED = "enrolled"
    REVOKED = "revoked"


class GateDirection(enum.StrEnum):
    IN = "in"
    OUT = "out"
    BOTH = "both"


class ListName(enum.StrEnum):
    ALLOWLIST = "allowlist"
    REVOCATIONS = "revocations"


gate_zones = Table(
    "fleet_gate_zones",
    Base.metadata,
    Column("gate_id", ForeignKey("fleet_gates.id", ondelete="CASCADE"), primary_key=True),
    Column("zone_id", ForeignKey("zones.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Gate(TenantMixin, Base):
    """A turnstile with a kiosk. Registry facts plus the last status its kiosk reported."""

    __tablename__ = "fleet_gates"
    __table_args__ = (UniqueConstraint("venue_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venues.id", ondelete="RESTRICT"), index=True)
    #: The gate id in MQTT topics (``[a-z0-9-_]``, unique per venue).
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    direction: Mapped[GateDirection] = mapped_column(enum_column(GateDirection, "gate_direction"))
    enrollment: Mapped[EnrollmentState] = mapped_column(
        enum_column(EnrollmentState, "gate_enrollment")
    )
    mqtt_username: Mapped[str | None] = mapped_column(String(140), unique=True)
    #: Mosquitto ``$7$`` PBKDF2-SHA512 hash of the kiosk's MQTT password (also its HTTP password).
    mqtt_password_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    enrolled_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    # Live status, from the retained status topic and the last will.
    state: Mapped[str] = mapped_column(String(16), default="unknown")
    mode: Mapped[str | None] = mapped_column(String(16))
    allowlist_version: Mapped[int] = mapped_column(default=0)
    revocations_version: Mapped[int] = mapped_column(default=0)
    outbox_depth: Mapped[int] = mapped_column(default=0)
    software: Mapped[str | None] = mapped_column(String(64))
    status_since: Mapped[datetime | None]
    last_seen_at: Mapped[datetime | None]
    last_scan_at: Mapped[datetime | None]
    #: Every scan of this gate with ``seq`` up to this is stored (the ack watermark).
    ack_watermark: Mapped[int] = mapped_column(default=0)
    #: The kiosk's latest ``telemetry`` metrics (name -> number) and when the server got them.
    telemetry: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    telemetry_at: Mapped[datetime | None]

    venue: Mapped[Venue] = relationship()
    zones: Mapped[list[Zone]] = relationship(secondary=gate_zones, order_by="Zone.id")

    @property
    def zone_ids(self) -> list[int]:
        return [zone.id for zone in self.zones]


class EnrollmentToken(TenantMixin, Base):
    """A one-time token a kiosk exchanges for its credentials; stored as its SHA-256."""

    __tablename__ = "fleet_enrollment_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    gate_id: Mapped[int] = mapped_column(ForeignKey("fleet_gates.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class GateScan(TenantMixin, Base):
    """Every scan a gate reported (admissions and rejections), with its original time."""

    __tablename__ = "gate_scans"
    __table_args__ = (
        UniqueConstraint("gate_id", "scan_id"),
        Index("ix_gate_scans_gate_id_seq", "gate_id", "seq"),
        Index("ix_gate_scans_merchant_id_received_at", "merchant_id", "received_at"),
        Index("ix_gate_scans_checkin_pending", "checkin_pending"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    gate_id: Mapped[int] = mapped_column(ForeignKey("fleet_gates.id", ondelete="CASCADE"))
    scan_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int]
    scanned_at: Mapped[datetime]
    received_at: Mapped[datetime]
    offline: Mapped[bool]
    direction: Mapped[str] = mapped_column(String(8))
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(64))
    ticket_id: Mapped[int | None]
    event_id: Mapped[int | None]
    code_hash: Mapped[str | None] = mapped_column(String(128))
    entry_no: Mapped[int | None]
    annuls: Mapped[str | None] = mapped_column(String(64))
    #: An admission or annulment not yet recorded in the check-in log (see fleet.checkins).
    checkin_pending: Mapped[bool] = mapped_column(default=False)


class GateCommand(TenantMixin, Base):
    """A command sent to a gate and, once it answers, its result."""

    __tablename__ = "fleet_commands"

    id: Mapped[int] = mapped_column(primary_key=True)
    gate_id: Mapped[int] = mapped_column(ForeignKey("fleet_gates.id", ondelete="CASCADE"))
    command_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(32))
    args: Mapped[dict[str, Any]] = mapped_column(JSON)
    issued_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    ok: Mapped[bool | None]
    error: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class SiteList(TenantMixin, Base):
    """The head of one site's list: current version, digest of the whole list, entry count."""

    __tablename__ = "fleet_site_lists"
    __table_args__ = (UniqueConstraint("venue_id", "list"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venues.id", ondelete="CASCADE"))
    list: Mapped[ListName] = mapped_column(enum_column(ListName, "fleet_list_name"))
    version: Mapped[int] = mapped_column(default=0)
    digest: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(default=0)


class ListEntry(TenantMixin, Base):
    """One entry of a site's current list (a code hash or a revoked ticket id)."""

    __tablename__ = "fleet_list_entries"
    __table_args__ = (UniqueConstraint("venue_id", "list", "entry"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venues.id", ondelete="CASCADE"))
    list: Mapped[ListName] = mapped_column(enum_column(ListName, "fleet_list_name"))
    entry: Mapped[str] = mapped_column(String(128))
    meta: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class ListChange(TenantMixin, Base):
    """The change log: each version of a site's list is the rows sharing ``version``."""

    __tablename__ = "fleet_list_changes"
    __table_args__ = (Index("ix_fleet_list_changes_site_version", "venue_id", "list", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venues.id", ondelete="CASCADE"))
    list: Mapped[ListName] = mapped_column(enum_column(ListName, "fleet_list_name"))
    version: Mapped[int]
    op: Mapped[str] = mapped_column(String(8))
    entry: Mapped[str] = mapped_column(String(128))
    meta: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: The event id when the whole version's entries belong to one event.
    scope: Mapped[int | None]
    #: The digest of the whole list after this version.
    digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class PendingStaffAdmission(TenantMixin, Base):
    """Outbox of staff check-ins (checkers, back office) not yet gossiped to the gates.

    A row is written in the check-in's own transaction and deleted by the bridge once it has
    published the ``admission`` under the pseudo-gate ``protocol.topics.STAFF_GATE``, so a
    check-in committed while no bridge runs reaches the gates when one starts.
    """

    __tablename__ = "fleet_pending_staff_admissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    checkin_record_id: Mapped[int] = mapped_column(
        ForeignKey("checkin_records.id", ondelete="CASCADE"), unique=True
    )


class CatchupClaim(TenantMixin, Base):
    """Which server instance answers a gate's catch-ups for now.

    Every bridge hears every gate's status (plain subscriptions: each instance's live feed needs
    them), so with several instances each would answer a gate that is behind, and a gate on a
    weak link would get every snapshot once per instance. The first instance to claim the gate
    answers it; the claim lasts ``catchup_interval`` after its last answer, then another may
    take over (its owner stopped). See :meth:`server.fleet.catchup.GateCatchup.send_due`.
    """

    __tablename__ = "fleet_catchup_claims"

    gate_id: Mapped[int] = mapped_column(
        ForeignKey("fleet_gates.id", ondelete="CASCADE"), primary_key=True
    )
    #: The claiming instance's MQTT client id (``ADMIT_MQTT_CLIENT_ID``, stable per instance).
    owner: Mapped[str] = mapped_column(String(128))
    claimed_at: Mapped[datetime]
