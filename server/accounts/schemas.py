"""Request and response bodies of the accounts API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from server.accounts.models import MerchantRole, MerchantStatus
from server.phones import mask_phone

Password = Field(min_length=8, max_length=128)


class CodeRequest(BaseModel):
    phone: str = Field(description="Phone number; without +, read as a mainland China number")


class CodeRequested(BaseModel):
    phone: str
    expires_in: int = Field(description="Seconds the code stays valid")
    resend_after: int = Field(description="Seconds before another code may be requested")


class CodeLogin(BaseModel):
    phone: str
    code: str = Field(min_length=4, max_length=10)
    merchant_id: int | None = Field(default=None, description="Bind the token to this merchant")


class PasswordLogin(BaseModel):
    phone: str
    password: str = Field(min_length=1, max_length=128)
    merchant_id: int | None = None


class SwitchMerchant(BaseModel):
    merchant_id: int | None = Field(description="null for an unbound (visitor) token")


class PasswordChange(BaseModel):
    current_password: str | None = None
    new_password: str = Password


class MembershipOut(BaseModel):
    merchant_id: int
    merchant_name: str
    merchant_status: MerchantStatus
    role: MerchantRole


class UserOut(BaseModel):
    id: int
    phone: str
    display_name: str
    is_platform_admin: bool
    has_password: bool


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime
    user: UserOut
    merchant_id: int | None
    role: MerchantRole | None
    memberships: list[MembershipOut]


class MeOut(BaseModel):
    user: UserOut
    merchant_id: int | None
    role: MerchantRole | None
    memberships: list[MembershipOut]


class MerchantCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    owner_phone: str
    owner_password: str | None = Field(
        default=None, min_length=8, max_length=128, description="Generated when omitted"
    )
    contact_name: str = Field(default="", max_length=100)
    events_public: bool | None = Field(
        default=None, description="Defaults to the platform setting merchants_public_by_default"
    )


class MerchantApplication(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    contact_name: str = Field(default="", max_length=100)
    password: str | None = Field(
        default=None, min_length=8, max_length=128, description="Sets the applicant's password"
    )


class MerchantUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    contact_name: str | None = Field(default=None, max_length=100)
    contact_phone: str | None = None
    events_public: bool | None = None


class MerchantRejection(BaseModel):
    reason: str = Field(default="", max_length=500)


class PasswordReset(BaseModel):
    password: str | None = Field(
        default=None, min_length=8, max_length=128, description="Generated when omitted"
    )


class MerchantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    contact_name: str
    contact_phone: str
    status: MerchantStatus
    events_public: bool
    rejection_reason: str
    created_at: datetime


class MerchantCreated(BaseModel):
    merchant: MerchantOut
    owner_user_id: int
    owner_phone: str
    generated_password: str | None = Field(description="Shown once; null when not generated")


class PasswordResetDone(BaseModel):
    phone: str
    generated_password: str | None


class StaffBind(BaseModel):
    phone: str
    role: MerchantRole


class StaffUpdate(BaseModel):
    role: MerchantRole


class StaffOut(BaseModel):
    id: int
    user_id: int
    phone: str
    phone_masked: str
    display_name: str
    role: MerchantRole
    created_at: datetime

    @classmethod
    def of(
        cls,
        membership_id: int,
        user_id: int,
        phone: str,
        display_name: str,
        role: MerchantRole,
        created_at: datetime,
    ) -> StaffOut:
        return cls(
            id=membership_id,
            user_id=user_id,
            phone=phone,
            phone_masked=mask_phone(phone),
            display_name=display_name,
            role=role,
            created_at=created_at,
        )
