"""Feature packages plug into the app here, without editing the app factory.

A feature package ``server/<name>/`` that serves HTTP or runs background work has a module
``server/<name>/feature.py`` defining ``FEATURE = Feature(...)``. :func:`discover_features`
imports every such module, in package-name order, and :func:`server.app.create_app` mounts the
routers, starts the long-running services and schedules the periodic jobs.

Models are found the same way: every ``server/<name>/models.py`` is imported by
:func:`import_all_models` so that ``Base.metadata`` is complete for ``create_all`` and Alembic.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import ModuleType

from fastapi import APIRouter, FastAPI

import server
from server.clock import Clock
from server.db import Database
from server.settings import Settings
from server.sms import SmsSender


@dataclass(frozen=True)
class ServerContext:
    """What background work needs from the running server (also ``app.state.context``)."""

    settings: Settings
    database: Database
    clock: Clock
    sms_sender: SmsSender


@dataclass(frozen=True)
class PeriodicJob:
    """Work run every ``interval`` in a worker thread, e.g. releasing expired reservations.

    ``run(context, now)`` must be safe to run on several server instances at once (use
    conditional updates). An exception is logged and the job runs again next interval.
    """

    name: str
    interval: timedelta
    run: Callable[[ServerContext, datetime], None]


#: A long-running service (the MQTT bridge): entered at start-up, exited at shutdown.
Service = Callable[[FastAPI], AbstractAsyncContextManager[None]]


@dataclass(frozen=True)
class Feature:
    name: str
    routers: Sequence[APIRouter] = ()
    services: Sequence[Service] = ()
    periodic_jobs: Sequence[PeriodicJob] = field(default_factory=tuple)


def _server_subpackages() -> list[str]:
    return sorted(info.name for info in pkgutil.iter_modules(server.__path__) if info.ispkg)


def _import_if_present(module_name: str) -> ModuleType | None:
    if importlib.util.find_spec(module_name) is None:
        return None
    return importlib.import_module(module_name)


def discover_features() -> list[Feature]:
    """Every ``server.<package>.feature.FEATURE``, ordered by package name."""
    features: list[Feature] = []
    for package in _server_subpackages():
        module = _import_if_present(f"server.{package}.feature")
        if module is None:
            continue
        feature = getattr(module, "FEATURE", None)
        if not isinstance(feature, Feature):
            raise TypeError(f"server.{package}.feature.FEATURE must be a server.features.Feature")
        features.append(feature)
    return features


def import_all_models() -> list[str]:
    """Import every ``server.<package>.models`` so ``Base.metadata`` knows every table."""
    imported: list[str] = []
    for package in _server_subpackages():
        module_name = f"server.{package}.models"
        if _import_if_present(module_name) is not None:
            imported.append(module_name)
    return imported
