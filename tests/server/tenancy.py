"""The registry behind ``test_tenancy.py``: merchant-owned endpoints that must answer 404 to
another merchant. Each test package lists its own in ``tests/server/<pkg>/tenancy_cases.py``
as ``CASES: list[OwnedEndpoint]`` (see docs/server.md)."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient

import tests.server
from tests.server.helpers import AccountFactory, MerchantAccount


@dataclass(frozen=True)
class TenancyWorld:
    """Two merchants: the victim owns the objects, the intruder tries to reach them."""

    client: TestClient
    accounts: AccountFactory
    victim: MerchantAccount
    intruder: MerchantAccount


@dataclass(frozen=True)
class OwnedEndpoint:
    """One request on one object of the victim's.

    ``create`` makes the object (as the victim) and returns the values for the placeholders in
    ``path``; ``body`` is sent as JSON for methods that take one.
    """

    name: str
    method: str
    path: str
    create: Callable[[TenancyWorld], Mapping[str, Any]]
    body: Any = field(default=None)


def collect_cases() -> list[OwnedEndpoint]:
    cases: list[OwnedEndpoint] = []
    for info in sorted(pkgutil.iter_modules(tests.server.__path__), key=lambda i: i.name):
        module_name = f"tests.server.{info.name}.tenancy_cases"
        if not info.ispkg or importlib.util.find_spec(module_name) is None:
            continue
        cases.extend(importlib.import_module(module_name).CASES)
    return cases
