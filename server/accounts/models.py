"""Accounts tables: users, merchants, memberships, access tokens, one-time codes, login attempts."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, TenantMixin, enum_column


class MerchantStatus(enum.StrEnum):
    ACTIVE = "active"
    FROZEN = "frozen"
    PENDING = "pending"
    REJECTED = "rejected"


class MerchantRole(enum.StrEnum):
    """A member's role inside one merchant. Owner and admin manage everything in it."""

    OWNER = "owner"
    ADMIN = "admin"
    CHECKER = "checker"
    GATE_OPERATOR = "gate_operator"


#: Roles that may do anything inside their merchant (and pass every merchant role guard).
MANAGER_ROLES = frozenset({MerchantRole.OWNER, MerchantRole.ADMIN})


class User(Base):
    """A person, identified by phone number. Visitors may never set a password."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_platform_admin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]

    memberships: Mapped[list[Membership]] = relationship(back_populates="user")


class Merchant(Base):
    """A sub-account of the platform: owns events, staff, gates. Deleting is soft."""

    __tablename__ = "merchants"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    contact_name: Mapped[str] = mapped_column(String(100), default="")
    contact_phone: Mapped[str] = mapped_column(String(20))
    status: Mapped[MerchantStatus] = mapped_column(
        enum_column(MerchantStatus, "merchant_status", length=32), index=True
    )
    #: Whether this merchant's events are listed publicly as soon as they are published.
    events_public: Mapped[bool]
    rejection_reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None]

    memberships: Mapped[list[Membership]] = relationship(back_populates="merchant")

    @property
    def is_operational(self) -> bool:
        """Members may log in and act only while this is true."""
        return self.status is MerchantStatus.ACTIVE and self.deleted_at is None


class Membership(TenantMixin, Base):
    """A user's role in a merchant; one role per user per merchant."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("merchant_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[MerchantRole] = mapped_column(
        enum_column(MerchantRole, "merchant_role", length=32)
    )
    created_at: Mapped[datetime]

    user: Mapped[User] = relationship(back_populates="memberships")
    merchant: Mapped[Merchant] = relationship(back_populates="memberships")


class AccessToken(Base):
    """An opaque bearer token, stored as its SHA-256 so a database leak reveals no tokens.

    ``merchant_id`` binds the token to one membership: requests made with it act for that
    merchant, with the role the membership has *at the time of the request*.
    """

    __tablename__ = "access_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    merchant_id: Mapped[int | None] = mapped_column(
        ForeignKey("merchants.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class OneTimeCode(Base):
    """A login code sent by SMS, stored as an HMAC; burnt by use, expiry or too many guesses."""

    __tablename__ = "one_time_codes"
    __table_args__ = (Index("ix_one_time_codes_phone_created_at", "phone", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20))
    client_ip: Mapped[str] = mapped_column(String(64), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    failed_attempts: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[datetime | None]


class PasswordFailure(Base):
    """One wrong password for a phone; counted over a window to lock out guessing."""

    __tablename__ = "password_failures"
    __table_args__ = (Index("ix_password_failures_phone_at", "phone", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime]
