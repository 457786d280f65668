"""Tenancy helpers for repositories: every merchant-owned query names its merchant.

Repositories of merchant-owned tables (models with :class:`server.db.TenantMixin`) read rows
only through these helpers or with an explicit ``Model.merchant_id == merchant_id`` filter, and
services turn "not yours" into the same 404 as "does not exist", so one merchant cannot even
learn which ids another merchant uses.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from server.db import TenantMixin

TenantModel = TypeVar("TenantModel", bound=TenantMixin)


def scoped_select(model: type[TenantModel], merchant_id: int) -> Select[TenantModel]:
    """``SELECT model WHERE merchant_id = :merchant_id``; add your own filters to it."""
    return select(model).where(model.merchant_id == merchant_id)


def get_owned(
    session: Session, model: type[TenantModel], merchant_id: int, object_id: Any
) -> TenantModel | None:
    """The row of ``model`` with primary key ``object_id`` if ``merchant_id`` owns it, else None."""
    row = session.get(model, object_id)
    if row is None or row.merchant_id != merchant_id:
        return None
    return row
